{#- The rules an input message is held to, ONE copy for SQL and Python:

    * the message roles the package knows and the names mapped to them (role_aliases);
    * the characters that are not text: whitespace and invisible ones such as zero-width
      spaces, joiners, the BOM and NUL (blank_characters); content made only of them is empty.

    The Python library (kura_dbt/loaders/message_rules.py: `kura load`, the summariser) reads
    the two JSON values below from this file, so keep them plain JSON: double quotes, no
    trailing comma, nothing else between `=` and `-%}`. A site adds or changes aliases with the
    var kura__role_aliases (`{name: role}`, `~` to drop a built-in one), merged over these. -#}

{% macro builtin_role_aliases() -%}
    {%- set role_aliases = {
        "user": "user",
        "human": "user",
        "prompter": "user",
        "customer": "user",
        "client": "user",
        "assistant": "assistant",
        "ai": "assistant",
        "bot": "assistant",
        "chatbot": "assistant",
        "model": "assistant",
        "gpt": "assistant",
        "chatgpt": "assistant",
        "claude": "assistant",
        "agent": "assistant",
        "system": "system",
        "developer": "system",
        "tool": "tool",
        "function": "tool",
        "tool_result": "tool",
        "ipython": "tool",
        "observation": "tool"
    } -%}
    {{ return(role_aliases) }}
{%- endmacro %}

{% macro blank_characters() -%}
    {#- whitespace: Python's whitespace (str.isspace); invisible: the NUL control character and
        format characters that show nothing: soft hyphen, combining grapheme joiner, Hangul fillers, Mongolian vowel
        separator, zero-width space, non-joiner and joiner, direction marks, embeddings and
        isolates, word joiner, invisible operators, BOM (zero-width no-break space). -#}
    {%- set blank_characters = {
        "whitespace": [
            "\t", "\n", "\u000b", "\u000c", "\r", "\u001c", "\u001d", "\u001e", "\u001f",
            " ", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003",
            "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028",
            "\u2029", "\u202f", "\u205f", "\u3000"
        ],
        "invisible": [
            "\u0000", "\u00ad", "\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", "\u180e", "\u200b",
            "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d",
            "\u202e", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\u2066", "\u2067",
            "\u2068", "\u2069", "\ufeff"
        ]
    } -%}
    {{ return(blank_characters) }}
{%- endmacro %}

{#- The built-in aliases with the site's (var kura__role_aliases) merged over them; names are
    trimmed and lower-cased, a role must be user, assistant, system or tool, `~` drops one. -#}
{% macro role_aliases() -%}
    {%- set roles = ['user', 'assistant', 'system', 'tool'] -%}
    {%- set merged = {} -%}
    {%- do merged.update(kura.builtin_role_aliases()) -%}
    {%- set site = var('kura__role_aliases', {}) or {} -%}
    {%- if site is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "kura: var kura__role_aliases must be a mapping {name: role}, got: " ~ site) }}
    {%- endif -%}
    {%- for name, role in site.items() -%}
        {%- set key = name | string | trim | lower -%}
        {%- if role is none or role == '' -%}
            {%- do merged.pop(key, none) -%}
        {%- elif role | string | trim | lower in roles -%}
            {%- do merged.update({key: role | string | trim | lower}) -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                "kura: var kura__role_aliases maps '" ~ name ~ "' to '" ~ role ~
                "'; a role is one of " ~ roles | join(', ') ~ " (or ~ to drop the alias)") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(merged) }}
{%- endmacro %}

{#- The package's role (user, assistant, system, tool) for a role column, NULL when unknown:
    blank characters around it are ignored, case too. -#}
{% macro normalise_role(expression) -%}
    {%- set chars = kura.blank_characters() -%}
    {%- set blank = (chars['whitespace'] + chars['invisible']) | reject('equalto', '\u0000') | join('') -%}
    case lower(trim(translate({{ kura.without_nul('cast(' ~ expression ~ ' as ' ~ dbt.type_string() ~ ')', "' '") }},
        {{ kura.sql_string(blank) }}, '{{ ' ' * (blank | length) }}')))
    {%- for name, role in kura.role_aliases() | dictsort %}
        when {{ kura.sql_string(name) }} then '{{ role }}'
    {%- endfor %}
    end
{%- endmacro %}

{#- True when a text expression has no visible character: only characters of the given kinds
    of blank_characters(), whitespace and invisible by default (NULL stays NULL). -#}
{% macro is_blank(expression, kinds=['whitespace', 'invisible']) -%}
    {%- set chars = kura.blank_characters() -%}
    {%- set blank = [] -%}
    {%- for kind in kinds -%}{%- do blank.extend(chars[kind]) -%}{%- endfor -%}
    {%- if '\u0000' in blank -%}{%- set expression = kura.without_nul(expression, "''") -%}{%- endif -%}
    translate({{ expression }}, {{ kura.sql_string(blank | reject('equalto', '\u0000') | join('')) }}, '') = ''
{%- endmacro %}

{#- The text expression with each NUL character replaced by `replacement` (SQL): NUL cannot be
    written inside a SQL string literal, so it is chr(0) here. -#}
{% macro without_nul(expression, replacement) -%}
    replace({{ expression }}, chr(0), {{ replacement }})
{%- endmacro %}

{#- A SQL string literal (single quotes doubled). -#}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
