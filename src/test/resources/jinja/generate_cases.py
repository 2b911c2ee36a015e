"""Regenerates cases.jsonl: Jinja templates rendered by Python Jinja2 set up as transformers'
apply_chat_template sets it up (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
loopcontrols, raise_exception, transformers' tojson). Not used by the build; run with
`python3 generate_cases.py > cases.jsonl` where jinja2 is installed (3.1.6 was used)."""
import json
import sys

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


class Generation(Extension):
    """transformers' AssistantTracker, minus the index tracking: renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                    extensions=[loopcontrols, Generation])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

MSGS = [{"role": "system", "content": "  Sys prompt \n"},
        {"role": "user", "content": "Hi <b>there</b> 日本 🦀"},
        {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nHello!"},
        {"role": "user", "content": "it's \"quoted\"\tand\\back"}]
CTX = {"messages": MSGS, "n": 7, "f": 2.5, "none": None, "flag": True, "empty": "",
       "d": {"b": 2, "a": 1, "c": [1, 2.0, None, True, "x"]},
       "tools": [{"name": "get", "parameters": {"type": "object", "items": {"k": "é"}}}]}

CASES = [
    # whitespace control: trim_blocks / lstrip_blocks / - / +
    ("ws_trim", "A\n{% if true %}\nB\n{% endif %}\nC\n"),
    ("ws_lstrip", "A\n    {% if true %}\n    B\n    {% endif %}\nC"),
    ("ws_minus", "A  \n  {%- if true -%}  \n  B  \n  {%- endif -%}  \n  C"),
    ("ws_plus", "A\n  {%+ if true +%}\nB\n  {%+ endif %}\nC"),
    ("ws_var_minus", "A  \n  {{- 'x' -}}  \n  B {{ 'y' }}  \n"),
    ("ws_var_no_lstrip", "A\n    {{ 'x' }}\n    {% set y = 1 %}\nZ"),
    ("ws_comment", "A\n  {# c #}\nB {#- c -#}   C\n{# c #}D"),
    ("ws_raw", "{% raw %}{{ not rendered }}{% endraw %}\n  {% raw -%}  x {%- endraw %}|"),
    ("ws_trailing_newline", "line\n"),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n"),
    ("ws_inline_tags", "x {% if true %}y{% endif %} z\n{% for i in [1,2] %}{{ i }} {% endfor %}\n"),
    ("ws_tag_after_text", "abc  {% if true %}\n  def\n{% endif %}"),
    ("ws_first_line", "   {% if true %}x{% endif %}"),
    ("ws_var_then_block", "{{ 'a' }}\n   {% if true %}b{% endif %}"),
    ("ws_minus_end_newline", "{% if true -%}\n\n  x\n{%- endif %}\n  {% if true %}y{% endif %}"),
    # printing
    ("print_values", "{{ none }}|{{ flag }}|{{ n }}|{{ f }}|{{ d }}|{{ [1, 'a', none] }}|{{ (1,) }}|{{ undefined_x }}|"),
    ("print_floats", "{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 10 / 4 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 1e16 }} {{ 123456789.125 }}"),
    ("print_str_repr", "{{ ['it\\'s', 'a\"b', \"both'\\\"\", 'tab\\tnl\\n', 'é'] }}"),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\x41\\u00e9\\U0001F980' }}|{{ \"x\\\"y\" }}|{{ 'a' 'b' }}"),
    # operators
    ("ops", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 'a' ~ 1 ~ none }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ -n }} {{ not flag }} {{ 3 > 2 > 1 }} {{ 1 < n <= 7 }}"),
    ("logic_returns_operand", "{{ empty or 'dflt' }}|{{ 'x' and 'y' }}|{{ none or 0 }}|{{ 0 and 1 }}"),
    ("cond_expr", "{{ 'a' if flag else 'b' }}{{ 'c' if not flag else 'd' }}[{{ 'e' if none }}]"),
    ("in_ops", "{{ 'b' in 'abc' }} {{ 2 in [1,2] }} {{ 'a' in d }} {{ 'z' not in d }} {{ 'x' in undefined_y }}"),
    ("equality", "{{ 1 == 1.0 }} {{ true == 1 }} {{ [1,2] == [1,2] }} {{ d == {'b': 2, 'a': 1, 'c': [1, 2.0, none, true, 'x']} }} {{ none == none }} {{ 'a' != 'b' }}"),
    # attribute / item / slicing
    ("access", "{{ messages[0].role }} {{ messages[-1]['role'] }} {{ messages[0]['nope'] is defined }} {{ messages[9] is defined }} {{ d.c[1:3] }} {{ d.c[::-1] }} {{ d.c[-2:] }} {{ 'hello'[1:-1] }} {{ 'héllo'[::2] }} {{ d.c.0 }}"),
    ("slices", "{{ messages[1:]|length }} {{ messages[:1]|map(attribute='role')|list }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3,4,5][4:1:-1] }} {{ [1,2,3][5:] }} {{ 'abc'[-10:10] }}"),
    ("dict_methods", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys()|list }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 5) }} {{ d.get('zz') is none }}"),
    ("dict_items_attr", "{{ tools[0].parameters.items is defined }} {{ tools[0].parameters['items'] }}"),
    # string methods
    ("str_methods", "{{ '  x y  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '\\n\\nA\\n'.lstrip('\\n') }}|{{ 'a\\n\\n'.rstrip() }}|{{ 'AbC'.upper() }}{{ 'AbC'.lower() }}|{{ \"they're bill's\".title() }}|{{ 'hELLO world'.capitalize() }}"),
    ("str_split", "{{ 'a,b,,c'.split(',') }} {{ '  a  b \\n c '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'x</think>y</think>z'.split('</think>')[-1] }}"),
    ("str_misc", "{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'a-b-c'.replace('-', '+') }} {{ 'a-b-c'.replace('-', '+', 1) }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.count('bc') }} {{ ', '.join(['x', 'y']) }} {{ '{} and {}'.format('a', 1) }} {{ '12'.isdigit() }}"),
    # filters
    ("filters_basic", "{{ messages|length }} {{ '  t  '|trim }} {{ 'xhix'|trim('x') }} {{ 'ab'|upper }} {{ undefined_z|default('dflt') }} {{ empty|default('e', true) }} {{ none|default('n') }} {{ [3,1,2]|sort }} {{ [3,1,2]|sort(reverse=true) }} {{ 'hello world-foo'|title }} {{ 'hELLO'|capitalize }}"),
    ("filters_lists", "{{ [1,2,3]|first }} {{ [1,2,3]|last }} {{ [1,2,3]|join('-') }} {{ messages|map(attribute='role')|join(',') }} {{ messages|selectattr('role', 'equalto', 'user')|list|length }} {{ messages|rejectattr('role', 'eq', 'user')|map(attribute='role')|list }} {{ [1,2,2,3,1]|unique|list }} {{ [4,2,9]|min }} {{ [4,2,9]|max }} {{ [1,2,3]|sum }} {{ 'abc'|list }} {{ [1,2]|reverse|list }} {{ 'abc'|reverse }}"),
    ("filters_select", "{{ [0,1,2,3,4]|select('odd')|list }} {{ [0,1,'',none,'x']|select|list }} {{ [0,1,2]|reject('even')|list }} {{ ['A','b']|map('lower')|list }} {{ messages|selectattr('content')|list|length }}"),
    ("filters_numbers", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 4.7|int }} {{ '2.5'|float }} {{ 3|float }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ -3|abs }} {{ 7|string ~ 'x' }}"),
    ("filters_dicts", "{{ d|dictsort }} {{ d|items|list }} {{ d|length }} {{ {'b': 1, 'A': 2}|dictsort }}"),
    ("filters_text", "{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(4, true) }}|{{ '<a href=\"x\">&\\'</a>'|e }}|{{ 'one two  three'|wordcount }}"),
    ("tojson", "{{ d|tojson }}\n{{ messages[1]|tojson }}\n{{ tools|tojson(indent=2) }}\n{{ d|tojson(indent=4, sort_keys=true) }}\n{{ 'é\\u0001\\x7f'|tojson }}\n{{ 'é'|tojson(ensure_ascii=true) }}\n{{ [1.0, 1e-7, none, true]|tojson }}\n{{ {'a': []}|tojson(indent=2) }}\n{{ d|tojson(separators=(',', ':')) }}"),
    # tests
    ("tests", "{{ n is number }} {{ n is integer }} {{ f is float }} {{ flag is boolean }} {{ flag is true }} {{ none is none }} {{ 'x' is string }} {{ d is mapping }} {{ [] is iterable }} {{ n is odd }} {{ n is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }} {{ x is undefined }} {{ 'ab' is lower }} {{ 2 is in [1, 2] }} {{ flag is sameas true }} {{ 1 is sameas true }} {{ n is not none }} {{ not n is none }}"),
    # loops
    ("loop_vars", "{% for m in messages %}{{ loop.index0 }}/{{ loop.index }}/{{ loop.revindex }}/{{ loop.length }}/{{ loop.first }}/{{ loop.last }}/{{ loop.cycle('odd', 'even') }}/{{ loop.previtem.role if loop.previtem is defined }};{% endfor %}"),
    ("loop_else_filter", "{% for m in messages if m.role == 'user' %}{{ m.role }}{{ loop.index }}{% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}"),
    ("loop_break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
    ("loop_nested", "{% for i in [1,2] %}{% for j in 'ab' %}{{ i }}{{ j }}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}"),
    ("loop_dict_string", "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'hé🦀' %}[{{ c }}]{% endfor %}|{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }}{% endfor %}"),
    ("range", "{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }}"),
    # scoping and namespace
    ("set_scoping", "{% set x = 1 %}{% for i in [1,2] %}{{ x }}{% set x = x + 10 %}{{ x }} {% endfor %}{{ x }}{% if true %}{% set x = 5 %}{% endif %} {{ x }}"),
    ("namespace", "{% set ns = namespace(found=false, n=messages|length - 1, items=[]) %}{% for m in messages %}{% if m.role == 'assistant' %}{% set ns.found = true %}{% set ns.n = loop.index0 %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }} {{ ns.items }}"),
    ("set_tuple_block", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set blk %}  x {{ a }}  {% endset %}[{{ blk }}]{% set up | upper %}abc{% endset %}{{ up }}"),
    ("macro", "{% macro fmt(m, prefix='> ', suffix='') %}{{ prefix }}{{ m.role }}:{{ m.content|length }}{{ suffix }}{% endmacro %}{% for m in messages %}{{ fmt(m) }}{{ fmt(m, '# ', suffix='!') }};{% endfor %}"),
    ("macro_ws", "{%- macro line(x) -%}\n  <{{ x }}>\n{%- endmacro -%}\n{{ line(1) }}\n{{ line(2) }}\n"),
    ("generation_tag", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% endif %}{% endfor %}"),
    ("dict_literal_in_var", "{{ {'a': {'b': [1, {'c': 2}]}} }} {{ {'k': 'v'}['k'] }}"),
    ("bool_const_variants", "{{ True }} {{ False }} {{ None }} {{ true and True }}"),
    ("undefined_concat", "[{{ undefined_q ~ 'x' }}] {{ undefined_q|length }} {{ undefined_q|trim }}| {{ (undefined_q|list) }} {{ undefined_q is defined }}"),
]

GEMMA = ("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not"
         " supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') !="
         " (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate') }}"
         "{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}"
         "{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' +"
         " message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}"
         "{{'<start_of_turn>model\\n'}}{% endif %}")
DEEPSEEK = ("{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}"
            "{% endif %}{% set ns = namespace(is_first=false, is_tool=false, system_prompt='',"
            " is_first_sp=true) %}{%- for message in messages %}{%- if message['role'] == 'system' %}"
            "{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}"
            "{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt +"
            " '\\n\\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{ bos_token }}"
            "{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}"
            "{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}"
            "{%- if message['role'] == 'assistant' and 'tool_calls' not in message %}"
            "{% set content = message['content'] %}{% if '</think>' in content %}"
            "{% set content = content.split('</think>')[-1] %}{% endif %}"
            "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor -%}"
            "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}")
QWEN25_TOOLS = open(__file__.replace("generate_cases.py", "qwen25_tools.jinja")).read()
with open(__file__.replace("jinja/generate_cases.py",
                           "fixtures/tokenizers/qwen3/tokenizer_config.json")) as f:
    QWEN3 = json.load(f)["chat_template"]
TOOL_MSGS = [{"role": "system", "content": "You are a bot."},
             {"role": "user", "content": "Weather in Paris?"},
             {"role": "assistant", "content": "",
              "tool_calls": [{"type": "function", "function": {
                  "name": "get_weather", "arguments": {"city": "Paris", "unit": "°C"}}}]},
             {"role": "tool", "content": "{\"temp\": 21}"},
             {"role": "tool", "content": "sunny"},
             {"role": "assistant", "content": "<think>\nok\n</think>\n\nIt is 21 °C.",
              "tool_calls": [{"name": "log", "arguments": "{\"x\": 1}"}]},
             {"role": "user", "content": "<tool_response>x</tool_response>"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                         "required": ["city"]}}}]
USER_ONLY = [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": " Yo "},
             {"role": "user", "content": "Q"}]
CASES += [
    ("real_gemma", GEMMA, {"messages": USER_ONLY, "bos_token": "<bos>", "add_generation_prompt": True}),
    ("real_deepseek", DEEPSEEK, {"bos_token": "<｜begin▁of▁sentence｜>", "add_generation_prompt": True}),
    ("real_qwen25_tools", QWEN25_TOOLS, {"messages": TOOL_MSGS, "tools": TOOLS,
                                         "add_generation_prompt": True}),
    ("real_qwen25_no_tools", QWEN25_TOOLS, {"messages": MSGS, "tools": None}),
    ("real_qwen3_tools", QWEN3, {"messages": TOOL_MSGS, "tools": TOOLS,
                                 "add_generation_prompt": True, "enable_thinking": False}),
    ("real_qwen3_reasoning_field", QWEN3, {"messages": [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "A", "reasoning_content": "\nR\n"}], "tools": None}),
]

ERRORS = [
    ("err_raise", "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('No system role allowed') }}{% endif %}{% endfor %}"),
    ("err_undefined_attr", "{{ undefined_r.x }}"),
    ("err_add_undefined", "{{ undefined_r + 'x' }}"),
    ("err_append", "{% set l = [] %}{{ l.append(1) }}"),
    ("err_str_plus_int", "{{ 'a' + 1 }}"),
    ("err_unclosed", "{% if true %}x"),
    ("err_bad_syntax", "{{ 1 + }}"),
    ("err_gemma_system", GEMMA),
]

out = sys.stdout
for case in CASES:
    case_id, src = case[0], case[1]
    overrides = case[2] if len(case) > 2 else {}
    result = env.from_string(src).render(**{**CTX, **overrides})
    line = {"id": case_id, "template": src, "expected": result}
    if overrides:
        line["context"] = overrides
    out.write(json.dumps(line, ensure_ascii=False) + "\n")
for case_id, src in ERRORS:
    try:
        env.from_string(src).render(**CTX)
        raise SystemExit(case_id + " did not fail")
    except Exception as e:
        out.write(json.dumps({"id": case_id, "template": src, "error": type(e).__name__ + ": " + str(e)},
                             ensure_ascii=False) + "\n")
out.write(json.dumps({"id": "_context", "context": CTX}, ensure_ascii=False) + "\n")
