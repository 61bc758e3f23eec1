{#- Snowflake Cortex AI_CLASSIFY for a pinned taxonomy (var kura__classifier: cortex), as
    int_kura__cortex_classifications calls it: one taxonomy level per call, top level first,
    then the children of the category chosen.

    AI_CLASSIFY(<input>, <list_of_categories> [, <config_object>] [, return_error_details => TRUE])
    (https://docs.snowflake.com/en/sql-reference/functions/ai_classify; the argument order and
    the named return_error_details as snowflakedb/snowpark-python renders them,
    src/snowflake/snowpark/functions.py, ai_classify):
    - categories: objects {label, description}; a description of at most 25 words;
    - config_object: task_description (at most 50 words) and examples, each {input, labels,
      explanation};
    - answer: {"labels": ["travel"]}; with return_error_details => TRUE an object
      {"value": <that answer>, "error": <text or null>}. The older CLASSIFY_TEXT answered
      {"label": ...}, which this parser does not take for an answer.
    The answer carries no token counts: prompt_tokens and completion_tokens are estimates at four
    characters per token (https://docs.snowflake.com/en/user-guide/snowflake-cortex/aisql-cost,
    which also says that AI_CLASSIFY bills input and output tokens and adds a prompt of its own).

    `other`: AI_CLASSIFY gives no confidence, so there is no threshold to abstain on; every call
    lists a category `other` ("none of the categories fits") beside the real ones, and a
    conversation that gets `other` at any level is `other`. Fixtures of the documented answers,
    with their sources: tests/fixtures/cortex/ai_classify*.json. -#}

{#- The pinned taxonomy file (stg_kura__taxonomy) read at run time and shaped into what the calls
    send: {'hash', 'depth', 'parents': {depth: [category ids with children, '' for the top]},
    'calls': {parent id: {'labels': {label: category id}, 'categories': [...], 'config': {...}}}}.
    Merged rows (a repeated category_id) add their examples and fill empty fields. The checks
    here are the ones that would make a call wrong; int_kura__classification_state validates the
    rest and names every problem's row and field. -#}
{% macro cortex_classify_taxonomy() %}
    {%- set table = run_query('select * from ' ~ ref('stg_kura__taxonomy')) -%}
    {%- set columns = table.column_names | map('lower') | list -%}
    {%- set example_columns = [] -%}
    {%- for n in range(1, columns | length + 1) -%}
        {%- if ('example_' ~ n) in columns -%}{%- do example_columns.append('example_' ~ n) -%}{%- endif -%}
    {%- endfor -%}
    {%- set categories = {} -%}
    {%- for row in table.rows -%}
        {%- set values = {} -%}
        {%- for column in columns -%}
            {%- set value = row[loop.index0] -%}
            {%- do values.update({column: '' if value is none else (value | string | trim)}) -%}
        {%- endfor -%}
        {%- set cid = values.get('category_id', '') -%}
        {%- set where = "kura: the pinned taxonomy (var kura__pinned_taxonomy), row " ~ loop.index ~ " (category_id " ~ cid ~ ")" -%}
        {%- if cid == '' or cid | lower == 'other' -%}
            {{ exceptions.raise_compiler_error(where ~ ", field category_id: empty or the reserved id other") }}
        {%- endif -%}
        {%- if cid not in categories -%}
            {%- do categories.update({cid: {'name': '', 'description': '', 'parent': '', 'examples': [], 'row': loop.index}}) -%}
        {%- endif -%}
        {%- set category = categories[cid] -%}
        {%- for field, column in [('name', 'name'), ('description', 'description'), ('parent', 'parent_id')] -%}
            {%- if category[field] == '' -%}{%- do category.update({field: values.get(column, '')}) -%}{%- endif -%}
        {%- endfor -%}
        {%- for column in example_columns -%}
            {%- if values[column] != '' and values[column] not in category['examples'] -%}
                {%- do category['examples'].append(values[column]) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(kura.cortex_classify_calls(categories)) }}
{% endmacro %}


{#- The tree of `categories` (id -> name, description, parent, examples, row) as the calls
    that classify into it, with the depth of its deepest leaf and a hash of everything sent. -#}
{% macro cortex_classify_calls(categories) %}
    {%- set children = {'': []} -%}
    {%- for cid in categories | sort -%}
        {%- set parent = categories[cid]['parent'] -%}
        {%- if parent != '' and parent not in categories -%}
            {{ exceptions.raise_compiler_error("kura: the pinned taxonomy (var kura__pinned_taxonomy), row " ~ categories[cid]['row'] ~ " (category_id " ~ cid ~ "), field parent_id: unknown category " ~ parent) }}
        {%- endif -%}
        {%- do children.setdefault(parent, []).append(cid) -%}
    {%- endfor -%}
    {%- set parents = {} -%}
    {%- set state = {'depth': 0, 'frontier': ['']} -%}
    {%- for level in range(categories | length + 1) if state['frontier'] -%}
        {%- set groups = [] -%}
        {%- for cid in state['frontier'] if cid in children -%}{%- do groups.append(cid) -%}{%- endfor -%}
        {%- if groups -%}
            {%- do parents.update({level: groups}) -%}
            {%- do state.update({'depth': level + 1}) -%}
        {%- endif -%}
        {%- set next = [] -%}
        {%- for group in groups -%}{%- do next.extend(children[group]) -%}{%- endfor -%}
        {%- do state.update({'frontier': next}) -%}
    {%- endfor -%}
    {%- if state['depth'] == 0 -%}
        {{ exceptions.raise_compiler_error("kura: the pinned taxonomy (var kura__pinned_taxonomy) has no top-level category (every row has a parent_id)") }}
    {%- endif -%}
    {%- set calls = {} -%}
    {%- for group in children -%}
        {%- do calls.update({group: kura.cortex_classify_call_for(categories, children, children[group])}) -%}
    {%- endfor -%}
    {{ return({'hash': local_md5(tojson(calls)), 'depth': state['depth'], 'parents': parents, 'calls': calls}) }}
{% endmacro %}


{#- One call's categories (the siblings `ids`, plus other) and config: labels are the
    categories' names where they are unique among the siblings, else their ids; descriptions are
    cut to the documented 25 words, and each category sends at most 3 examples of at most 300
    characters (the LLM classifier's cut) with an explanation from its description. -#}
{% macro cortex_classify_call_for(categories, children, ids) %}
    {%- set names = [] -%}
    {%- for cid in ids -%}{%- do names.append(categories[cid]['name'] | lower) -%}{%- endfor -%}
    {%- set labels = {} -%}
    {%- set objects = [] -%}
    {%- set examples = [] -%}
    {%- for cid in ids -%}
        {%- set c = categories[cid] -%}
        {%- set unique = c['name'] != '' and names.count(c['name'] | lower) == 1 and c['name'] | lower != 'other' -%}
        {%- set label = c['name'] if unique else cid -%}
        {%- do labels.update({label: cid}) -%}
        {%- set about = ((c['name'] ~ ': ' ~ c['description']) if c['description'] else c['name']) -%}
        {%- do objects.append({'label': label, 'description': about.split()[:25] | join(' ')}) -%}
        {%- set shots = kura.cortex_classify_examples(categories, children, cid) -%}
        {%- for shot in shots[:3] -%}
            {%- do examples.append({'input': shot[:300], 'labels': [label], 'explanation': ('It is about ' ~ about).split()[:50] | join(' ')}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do labels.update({'other': 'other'}) -%}
    {%- do objects.append({'label': 'other', 'description': 'None of the other categories fits this conversation.'}) -%}
    {%- set task = 'Classify the summary of a conversation between a user and an AI assistant by what the user asked for. Choose the one category that fits best, or other when none of the categories fits.' -%}
    {%- set config = {'task_description': task, 'output_mode': 'single'} -%}
    {%- if examples -%}{%- do config.update({'examples': examples}) -%}{%- endif -%}
    {{ return({'labels': labels, 'categories': objects, 'config': config}) }}
{% endmacro %}


{#- A category's examples: its own, else the first example of each of its descendants. -#}
{% macro cortex_classify_examples(categories, children, cid) %}
    {%- if categories[cid]['examples'] or cid not in children -%}
        {{ return(categories[cid]['examples']) }}
    {%- endif -%}
    {%- set found = [] -%}
    {%- for child in children[cid] -%}
        {%- set shots = kura.cortex_classify_examples(categories, children, child) -%}
        {%- if shots -%}{%- do found.append(shots[0]) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}


{#- A Python-style value (dicts, lists, strings) as a Snowflake constant. -#}
{% macro cortex_constant(value) -%}
    {%- if value is mapping -%}
        { {%- for key in value -%}{{ kura.cortex_string(key) }}: {{ kura.cortex_constant(value[key]) }}{{ ", " if not loop.last }}{%- endfor -%} }
    {%- elif value is string -%}
        {{ kura.cortex_string(value) }}
    {%- elif value is iterable -%}
        [ {%- for item in value -%}{{ kura.cortex_constant(item) }}{{ ", " if not loop.last }}{%- endfor -%} ]
    {%- else -%}
        {{ value }}
    {%- endif -%}
{%- endmacro %}


{#- The answer of one call (a VARIANT) on `text` (SQL) for `call` (one entry of calls). -#}
{% macro cortex_classify(text, call) -%}
    try_parse_json(to_varchar(
    {%- if kura.cortex_stand_in() -%}
        {{ kura.cortex_classify_stand_in(text, call['labels'] | list) }}
    {%- else -%}
        {{ adapter.dispatch('cortex_classify', 'kura')(text, call) }}
    {%- endif -%}
    ))
{%- endmacro %}

{% macro default__cortex_classify(text, call) -%}
    {%- if execute -%}
    {{ exceptions.raise_compiler_error("kura: the Cortex backends run on Snowflake only (target type " ~ target.type ~ ")") }}
    {%- endif -%}
{%- endmacro %}

{% macro snowflake__cortex_classify(text, call) -%}
    ai_classify(
        {{ text }},
        {{ kura.cortex_constant(call['categories']) }},
        {{ kura.cortex_constant(call['config']) }}
        {%- if kura.cortex_classify_error_details() %},
        return_error_details => TRUE
        {%- endif %}
    )
{%- endmacro %}

{#- Whether calls ask for return_error_details: var kura__cortex_error_handling, the setting of
    every Cortex call (error_details, the default: a row that fails answers its error text; try:
    no argument, so a failed row is NULL with the 2026_02 bundle and fails the query without). -#}
{% macro cortex_classify_error_details() -%}
    {{ return(var('kura__cortex_error_handling', 'error_details') | string | trim | lower == 'error_details') }}
{%- endmacro %}


{#- The stand-in (var kura__cortex_stand_in): the JSON text of the documented answer
    (tests/fixtures/cortex/ai_classify*.json), the return_error_details object or the bare
    {"labels": [...]} answer, with the first label whose first word the text contains, else one
    picked from the text's MD5. A row for which the SQL predicate of var
    kura__cortex_stand_in_failing holds (`input` stands for the text) answers an error (NULL
    without error details). -#}
{% macro cortex_classify_stand_in(text, labels) -%}
    {%- set details = kura.cortex_classify_error_details() -%}
    {%- set failing = var('kura__cortex_stand_in_failing', none) -%}
    case
        {%- if failing is not none %}
        when {{ failing | replace('input', text) }} then
            {{ kura.cortex_string(tojson({'value': none, 'error': 'stand-in: the request failed'})) if details else 'null' }}
        {%- endif %}
        {%- for label in labels if label != 'other' %}
        when contains(lower({{ text }}), {{ kura.cortex_string(label.split()[0] | lower) }}) then
            {{ kura.cortex_string(kura.cortex_classify_stand_in_answer(label, details)) }}
        {%- endfor %}
        {%- for label in labels %}
        when mod(ascii(substr(md5({{ text }}), 1, 1)) + ascii(substr(md5({{ text }}), 2, 1)), {{ labels | length }}) = {{ loop.index0 }} then
            {{ kura.cortex_string(kura.cortex_classify_stand_in_answer(label, details)) }}
        {%- endfor %}
    end
{%- endmacro %}

{% macro cortex_classify_stand_in_answer(label, details) -%}
    {{ return(tojson({'value': {'labels': [label]}, 'error': none} if details else {'labels': [label]})) }}
{%- endmacro %}


{#- The first label of an answer, whichever documented shape it has (with or without error
    details); NULL when it has none. -#}
{% macro cortex_classify_label(response) -%}
    coalesce({{ response }}:value:labels[0]::varchar, {{ response }}:labels[0]::varchar)
{%- endmacro %}

{#- Why an answer is not a label: NULL when it has one. -#}
{% macro cortex_classify_error(response, level) -%}
    case
        when {{ response }} is null
            then 'Cortex AI_CLASSIFY returned no answer (NULL) at level {{ level }}'
        when {{ response }}:error::varchar is not null
            then 'Cortex AI_CLASSIFY failed at level {{ level }}: ' || {{ response }}:error::varchar
        when {{ kura.cortex_classify_label(response) }} is null
            then 'Cortex AI_CLASSIFY answered without labels at level {{ level }}: ' || left(to_varchar({{ response }}), 200)
    end
{%- endmacro %}
