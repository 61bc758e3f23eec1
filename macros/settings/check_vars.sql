{#- The vars checked when a dbt command starts (on-run-start in dbt_project.yml).

    Each declared var that has a type, allowed values or a range to check
    (kura.var_declarations(), rendered from kura_dbt.settings by `kura settings write`) is read
    with var() and checked as the Python models check it, naming the var; every error fails
    the run before any model. A kura__ var given with --vars that no setting has is a warning
    naming the closest known one; a deprecated var name that is set is a one-line warning naming
    its new name. The vars of your dbt_project.yml cannot be listed from Jinja:
    `kura settings validate --project-dir .` checks those names. Returns no SQL. -#}

{% macro check_vars() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set declared = kura.var_declarations() -%}
    {%- set given = invocation_args_dict.get('vars') or {} -%}
    {%- for old, new in declared['deprecated'].items() -%}
        {%- if var(old, none) is not none -%}
            {%- do exceptions.warn("kura: var " ~ old ~ " is deprecated: use " ~ new ~ " (same value)") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for name in (given if given is mapping else []) | sort -%}
        {%- if name.startswith('kura__') and name not in declared['names']
            and name not in declared['deprecated'] -%}
            {%- set close = kura.closest_var(name, declared['names']) -%}
            {%- do exceptions.warn("kura: unknown var " ~ name ~ ": no kura setting has this name"
                ~ ("; did you mean " ~ close ~ "?" if close else "")) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set errors = [] -%}
    {%- for spec in declared['checks'] -%}
        {%- set error = kura.var_error(spec, var(spec['name'], none)) -%}
        {%- if error -%}{%- do errors.append(error) -%}{%- endif -%}
    {%- endfor -%}
    {%- if errors -%}
        {{ exceptions.raise_compiler_error(errors | join('\n')) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#- The error for `value` of the var declared by `spec` ({name, kind, choices, minimum,
    maximum, exclusive}), or none; null keeps the default. Messages as kura_dbt.settings.Var. -#}
{% macro var_error(spec, value) -%}
    {%- set name, kind, text = spec['name'], spec['kind'], value | string | trim | lower -%}
    {%- set number = value | float(none) -%}
    {%- set bad_type = value is not none and (
        (kind == 'bool' and value is not boolean and text not in ['true', 'false', '1', '0', 'yes', 'no'])
        or (kind in ['int', 'float'] and (number is none or value is boolean))
        or (kind == 'int' and number is not none and number != (number | int))
        or (kind == 'list' and (value is string or value is mapping or value is not iterable))
        or (kind == 'dict' and value is not mapping)) -%}
    {%- if value is none -%}{{ return(none) }}{%- endif -%}
    {%- if bad_type -%}
        {{ return("kura: var " ~ name ~ " must be " ~ kind ~ ", got " ~ value) }}
    {%- endif -%}
    {%- if spec['choices'] and (text | replace('-', '_')) not in spec['choices'] -%}
        {{ return("kura: var " ~ name ~ " is '" ~ value ~ "'; valid: " ~ spec['choices'] | join(', ')) }}
    {%- endif -%}
    {%- set low, high, open = spec['minimum'], spec['maximum'], spec['exclusive'] -%}
    {%- set below = low is not none and (number <= low if open else number < low) -%}
    {%- set above = high is not none and (number >= high if open else number > high) -%}
    {%- if below or above -%}
        {%- if open -%}
            {%- set bounds = "greater than " ~ low if high is none
                else "strictly between " ~ low ~ " and " ~ high -%}
        {%- else -%}
            {%- set bounds = "at least " ~ low if high is none else "between " ~ low ~ " and " ~ high -%}
        {%- endif -%}
        {{ return("kura: var " ~ name ~ " must be " ~ bounds ~ ", got " ~ value) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{#- The known name closest to `name` by shared character pairs (Dice coefficient, at least
    0.6, as difflib's ratio in `kura settings validate`), or none. -#}
{% macro closest_var(name, known) -%}
    {%- set ns = namespace(best=none, score=0.5999) -%}
    {%- set pairs = kura.var_char_pairs(name[6:]) -%}
    {%- for candidate in known -%}
        {%- set other = kura.var_char_pairs(candidate[6:]) -%}
        {%- set shared = pairs | select('in', other) | list | length -%}
        {%- set score = 2.0 * shared / ([pairs | length + other | length, 1] | max) -%}
        {%- if score > ns.score -%}
            {%- set ns.best = candidate -%}
            {%- set ns.score = score -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ns.best) }}
{%- endmacro %}


{% macro var_char_pairs(text) -%}
    {%- set out = [] -%}
    {%- for i in range((text | length) - 1) -%}{%- do out.append(text[i:i + 2]) -%}{%- endfor -%}
    {{ return(out) }}
{%- endmacro %}
