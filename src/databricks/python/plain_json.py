# Canonical plain JSON of one DynamoDB JSON value, for a Databricks SQL warehouse.
#
# The text this returns is, byte for byte, what valueToPlainJson in src/dynamo/plain-json.ts
# returns for the same value, and a value that function refuses is refused here with the same
# message (InvalidAttributeValueError's text, raised as ValueError). The rules it follows are
# written down there and in src/dynamo/number.ts, base64.ts and parse.ts; this file repeats them
# in Python, and test/databricks/python compares the two on generated values.
#
# Everything above the END OF BODY line is the body of the Unity Catalog function that
# src/databricks/plain-json-function.ts creates: python-function.ts appends
# `return ddb_plain_json(value)`.
# Databricks runs such a body as the body of a Python function whose parameters are visible by
# name, and takes what it returns as the result (None for NULL); a NULL argument arrives as None
# (CREATE FUNCTION, Databricks SQL language reference: LANGUAGE PYTHON, AS dollar-quoted body).
# So the body must:
#   - use the standard library only (json, base64, re, functools);
#   - not use `from __future__`, `global`, or type annotations newer than Python 3.8;
#   - not contain two dollar signs in a row (they end the dollar-quoted body);
#   - keep no data in multi-line string literals, so indenting the body cannot change a value.
# Below the END OF BODY line, the file is a command for tests: one DynamoDB JSON value text per
# line of stdin, one JSON line per value on stdout.
#
# Numbers stay text: an N value is a JSON string and is checked and normalized as text, never
# through float or a decimal context. Only a bare JSON number, which is never valid DynamoDB JSON,
# becomes a float, to describe it in the error message as JavaScript would.

import base64
import functools
import json
import re

_MAX_NESTING_LEVELS = 32
_TOP_LEVEL = 2
_MAX_SIGNIFICANT_DIGITS = 38
_MAX_LEADING_EXPONENT = 125
_MIN_LEADING_EXPONENT = -130
_INT32_MAX = 2147483647
_INT32_MIN = -2147483648

_NUMBER_SYNTAX = (
    "not number syntax (expected [+|-]digits[.digits][e[+|-]digits] with ASCII digits and no spaces)"
)
_NUMBER_PRECISION = "more than 38 significant digits"
_NUMBER_OVERFLOW = "magnitude larger than 9.9999999999999999999999999999999999999E+125"
_NUMBER_UNDERFLOW = "magnitude smaller than 1E-130"
_TAGS = "S, N, B, BOOL, NULL, SS, NS, BS, L, M"

# Only ASCII digits ([0-9], not \d, which matches every Unicode digit in Python).
_NUMBER_PATTERN = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?)([0-9]+))?")
_BASE64_PATTERN = re.compile(r"[A-Za-z0-9+/]*")
_BASE64_SEXTET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What JSON.stringify escapes: control characters, quote, backslash, and (since ES2019) lone
# surrogates. A str from json.loads holds a surrogate code point only when it is lone: escaped
# pairs are joined into one code point.
_JS_ESCAPED = re.compile("[\x00-\x1f\"\\\\\ud800-\udfff]")
_JS_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_SURROGATE = re.compile("[\ud800-\udfff]")
# JavaScript lists an object's array-index keys first, in numeric order (ECMA-262,
# OrdinaryOwnPropertyKeys); parse.ts meets keys in that order, so errors are reported in it.
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")
_ARRAY_INDEX_MAX = 4294967294


class _Failure(Exception):
    def __init__(self, reason):
        Exception.__init__(self, reason)
        self.reason = reason
        self.segments = []  # innermost first


def _js_quote(text):
    """JSON.stringify of a string."""

    def escape(match):
        char = match.group(0)
        short = _JS_SHORT_ESCAPES.get(char)
        return short if short is not None else "\\u%04x" % ord(char)

    return '"' + _JS_ESCAPED.sub(escape, text) + '"'


def _js_number(value):
    """String(value) for a float, as JavaScript writes numbers (Number::toString)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that read back as the same double, as JavaScript does.
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent or "0") - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    power = point - 1
    mark = "e+" if power >= 0 else "e-"
    body = digits if count == 1 else digits[0] + "." + digits[1:]
    return sign + body + mark + str(abs(power))


def _utf16_length(text):
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _describe(json_value):
    if json_value is None:
        return "null"
    if isinstance(json_value, list):
        return "an array"
    if isinstance(json_value, str):
        if _utf16_length(json_value) > 60:
            # JavaScript cuts at 60 UTF-16 units, which may split a surrogate pair.
            units = json_value.encode("utf-16-le", "surrogatepass")[:120]
            json_value = units.decode("utf-16-le", "surrogatepass") + "\u2026"
        return "string " + _js_quote(json_value)
    if isinstance(json_value, dict):
        return "an object"
    if isinstance(json_value, bool):
        return "boolean true" if json_value else "boolean false"
    return "number " + _js_number(json_value)


def _js_keys(json_object):
    """The keys of an object in the order JavaScript enumerates them."""
    indices = []
    names = []
    for key in json_object:
        if _ARRAY_INDEX.fullmatch(key) and int(key) <= _ARRAY_INDEX_MAX:
            indices.append(key)
        else:
            names.append(key)
    if not indices:
        return names
    indices.sort(key=int)
    return indices + names


def _append_path(path, segment):
    if isinstance(segment, int):
        return path + "[" + str(segment) + "]"
    if not _PLAIN_NAME.fullmatch(segment):
        return path + "[" + _js_quote(segment) + "]"
    return segment if path == "" else path + "." + segment


def _check_number(text):
    """The canonical text of a DynamoDB number (src/dynamo/number.ts), or raises _Failure."""
    match = _NUMBER_PATTERN.fullmatch(text)
    if match is None:
        raise _Failure(_NUMBER_SYNTAX)
    negative = match.group(1) == "-"
    whole = match.group(2)
    fraction = match.group(3) or ""
    if whole == "" and fraction == "":
        raise _Failure(_NUMBER_SYNTAX)
    exponent = 0
    exponent_digits = match.group(5)
    if exponent_digits is not None:
        exponent_digits = exponent_digits.lstrip("0") or "0"
        # Compared before int(): Python refuses int() of very long digit strings.
        if len(exponent_digits) > 10:
            raise _Failure(_NUMBER_SYNTAX)
        exponent = -int(exponent_digits) if match.group(4) == "-" else int(exponent_digits)
        if exponent > _INT32_MAX or exponent < _INT32_MIN:
            raise _Failure(_NUMBER_SYNTAX)
    java_scale = len(fraction) - exponent
    if java_scale > _INT32_MAX or java_scale < _INT32_MIN:
        raise _Failure(_NUMBER_SYNTAX)
    digits = whole + fraction
    stripped = digits.lstrip("0")
    if stripped == "":
        return "0"
    first = len(digits) - len(stripped)
    last = len(digits.rstrip("0")) - 1
    leading = len(whole) - 1 - first + exponent
    trailing = len(whole) - 1 - last + exponent
    if leading - trailing + 1 > _MAX_SIGNIFICANT_DIGITS:
        raise _Failure(_NUMBER_PRECISION)
    if leading > _MAX_LEADING_EXPONENT:
        raise _Failure(_NUMBER_OVERFLOW)
    if leading < _MIN_LEADING_EXPONENT:
        raise _Failure(_NUMBER_UNDERFLOW)
    significant = digits[first : last + 1]
    if trailing >= 0:
        body = significant + "0" * trailing
    else:
        point = len(significant) + trailing
        if point > 0:
            body = significant[:point] + "." + significant[point:]
        else:
            body = "0." + "0" * -point + significant
    return "-" + body if negative else body


def _number_parts(canonical):
    """(sign, power of ten of the first digit, significant digits) of canonical number text."""
    if canonical == "0":
        return (0, 0, "0")
    negative = canonical.startswith("-")
    body = canonical[1:] if negative else canonical
    whole, _, fraction = body.partition(".")
    if whole != "0":
        leading = len(whole) - 1
        digits = (whole + fraction).rstrip("0")
    else:
        digits = fraction.lstrip("0")
        leading = -(len(fraction) - len(digits)) - 1
    return (-1 if negative else 1, leading, digits)


def _compare_numbers(left, right):
    """Orders canonical number texts by value, as compareNumbers in number.ts does."""
    left_sign, left_leading, left_digits = _number_parts(left)
    right_sign, right_leading, right_digits = _number_parts(right)
    if left_sign != right_sign:
        return -1 if left_sign < right_sign else 1
    if left_sign == 0:
        return 0
    if left_leading != right_leading:
        magnitude = -1 if left_leading < right_leading else 1
    elif left_digits == right_digits:
        magnitude = 0
    else:
        # Same leading power of ten and no trailing zeros: the digit strings order as the values.
        magnitude = -1 if left_digits < right_digits else 1
    return -magnitude if left_sign < 0 else magnitude


def _check_base64(text):
    """Canonical base64 of padded standard base64 text (src/dynamo/base64.ts), or None."""
    length = len(text)
    if length == 0:
        return text
    if length % 4 != 0:
        return None
    padding = 0
    if text[-1] == "=":
        padding = 2 if text[-2] == "=" else 1
    end = length - padding
    if not _BASE64_PATTERN.fullmatch(text, 0, end):
        return None
    if padding == 0:
        return text
    sextet = _BASE64_SEXTET.index(text[end - 1])
    unused_bits = sextet & 0b11 if padding == 1 else sextet & 0b1111
    if unused_bits == 0:
        return text
    return base64.b64encode(base64.b64decode(text)).decode("ascii")


def _utf16_order_key(text):
    # The order compareUtf8 in plain-json.ts gives strings with lone surrogates: UTF-16 units,
    # with U+E000..U+FFFF moved below the surrogates, as code point order does for pairs.
    units = text.encode("utf-16-be", "surrogatepass")
    key = []
    for i in range(0, len(units), 2):
        unit = (units[i] << 8) | units[i + 1]
        if unit >= 0xE000:
            unit -= 0x800
        elif unit >= 0xD800:
            unit += 0x2000
        key.append(unit)
    return key


def _sorted_utf8(texts):
    """Strings in UTF-8 byte order (code point order), as compareUtf8 in plain-json.ts sorts."""
    # Code point order is UTF-8 byte order for well-formed strings; a lone surrogate, which
    # JavaScript compares as a UTF-16 unit, needs the unit order for every string of the sort.
    if any(_SURROGATE.search(text) for text in texts):
        return sorted(texts, key=_utf16_order_key)
    return sorted(texts)


def _string_element(element, index):
    if not isinstance(element, str):
        raise _Failure("SS element %d is %s, not a string" % (index, _describe(element)))
    return element


def _number_element(element, index):
    if not isinstance(element, str):
        raise _Failure("NS element %d is %s, not a number as a string" % (index, _describe(element)))
    try:
        return _check_number(element)
    except _Failure as failure:
        raise _Failure("NS element %d %s: %s" % (index, _describe(element), failure.reason))


def _binary_element(element, index):
    if not isinstance(element, str):
        raise _Failure("BS element %d is %s, not base64 text" % (index, _describe(element)))
    canonical = _check_base64(element)
    if canonical is None:
        raise _Failure("BS element %d %s is not padded standard base64" % (index, _describe(element)))
    return canonical


def _check_set(tag, inner, check):
    """Canonical elements of a non-empty set without duplicates, as checkSet in parse.ts."""
    if not isinstance(inner, list):
        raise _Failure("%s must hold an array, got %s" % (tag, _describe(inner)))
    if not inner:
        raise _Failure("%s is empty: a set holds at least one element" % tag)
    elements = [check(element, index) for index, element in enumerate(inner)]
    first_index = {}
    for index, element in enumerate(elements):
        earlier = first_index.get(element)
        if earlier is not None:
            same = " (equal values)" if tag == "NS" else " (equal bytes)" if tag == "BS" else ""
            raise _Failure(
                "%s has duplicates: elements %d %s and %d %s%s; a set holds distinct elements"
                % (tag, earlier, _describe(inner[earlier]), index, _describe(inner[index]), same)
            )
        first_index[element] = index
    return elements


def _nesting_failure():
    return _Failure("maps and lists nest deeper than DynamoDB's %d levels" % _MAX_NESTING_LEVELS)


def _value_text(json_value, level):
    """Validates one value as parseValue in parse.ts does and returns its plain JSON text."""
    if not isinstance(json_value, dict):
        raise _Failure(
            'expected an object with one type tag such as {"S": "\u2026"}, got ' + _describe(json_value)
        )
    if len(json_value) != 1:
        if not json_value:
            raise _Failure("no type tag: expected exactly one of " + _TAGS)
        raise _Failure(
            "more than one type tag (%s): a value has exactly one" % ", ".join(_js_keys(json_value))
        )
    tag, inner = next(iter(json_value.items()))
    if tag == "S":
        if not isinstance(inner, str):
            raise _Failure("S must hold a string, got " + _describe(inner))
        return _js_quote(inner)
    if tag == "N":
        if not isinstance(inner, str):
            raise _Failure("N must hold a number as a string, got " + _describe(inner))
        try:
            return _check_number(inner)
        except _Failure as failure:
            raise _Failure("N %s: %s" % (_describe(inner), failure.reason))
    if tag == "B":
        if not isinstance(inner, str):
            raise _Failure("B must hold base64 text, got " + _describe(inner))
        canonical = _check_base64(inner)
        if canonical is None:
            raise _Failure("B %s is not padded standard base64" % _describe(inner))
        return '"' + canonical + '"'
    if tag == "BOOL":
        if not isinstance(inner, bool):
            raise _Failure("BOOL must hold true or false, got " + _describe(inner))
        return "true" if inner else "false"
    if tag == "NULL":
        if inner is not True:
            raise _Failure("NULL must hold exactly true, got " + _describe(inner))
        return "null"
    if tag == "SS":
        elements = _check_set("SS", inner, _string_element)
        return "[" + ",".join(_js_quote(element) for element in _sorted_utf8(elements)) + "]"
    if tag == "NS":
        elements = _check_set("NS", inner, _number_element)
        return "[" + ",".join(sorted(elements, key=functools.cmp_to_key(_compare_numbers))) + "]"
    if tag == "BS":
        elements = _check_set("BS", inner, _binary_element)
        return '["' + '","'.join(sorted(elements, key=base64.b64decode)) + '"]'
    if tag == "L":
        if not isinstance(inner, list):
            raise _Failure("L must hold an array, got " + _describe(inner))
        if level > _MAX_NESTING_LEVELS:
            raise _nesting_failure()
        return "[" + ",".join(_list_texts(inner, level + 1)) + "]"
    if tag == "M":
        if not isinstance(inner, dict):
            raise _Failure("M must hold an object, got " + _describe(inner))
        if level > _MAX_NESTING_LEVELS:
            raise _nesting_failure()
        return _map_text(inner, level + 1)
    raise _Failure("unknown type tag %s: expected one of %s" % (_js_quote(tag), _TAGS))


def _list_texts(elements, element_level):
    texts = []
    for index, element in enumerate(elements):
        try:
            texts.append(_value_text(element, element_level))
        except _Failure as failure:
            failure.segments.append(index)
            raise
    return texts


def _map_text(json_map, value_level):
    texts = {}
    for name in _js_keys(json_map):
        if name == "":
            raise _Failure("empty attribute name: names have at least one character")
        try:
            texts[name] = _value_text(json_map[name], value_level)
        except _Failure as failure:
            failure.segments.append(name)
            raise
    return "{" + ",".join(_js_quote(name) + ":" + texts[name] for name in _sorted_utf8(list(texts))) + "}"


def _refuse_constant(name):
    # Python reads NaN and Infinity; JSON (and JSON.parse) does not.
    raise ValueError("%s is not JSON" % name)


def ddb_plain_json(value):
    """The canonical plain JSON text of one DynamoDB JSON value text; None for None.

    Raises ValueError when the text is not JSON, or not a value DynamoDB accepts; the message is
    InvalidAttributeValueError's and names the attribute path (`a.b[2]`) from the value itself.
    """
    if value is None:
        return None
    try:
        json_value = json.loads(value, parse_int=float, parse_float=float, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("Not DynamoDB JSON: it nests too deeply to read") from None
    except ValueError as error:
        raise ValueError("Not DynamoDB JSON: %s" % error) from None
    try:
        return _value_text(json_value, _TOP_LEVEL)
    except _Failure as failure:
        path = ""
        for segment in reversed(failure.segments):
            path = _append_path(path, segment)
        raise ValueError(
            "Invalid DynamoDB value at %s: %s. The value is not one DynamoDB accepts; "
            "fix the source record or quarantine it." % (path or "the item root", failure.reason)
        ) from None


# ---- END OF BODY ----


def _main():
    import sys

    for line in sys.stdin.buffer.read().split(b"\n")[:-1]:
        try:
            result = json.dumps(ddb_plain_json(line.decode("utf-8")))
        except Exception as error:  # every failure is reported on its own line
            result = json.dumps({"error": str(error), "type": type(error).__name__})
        sys.stdout.write(result + "\n")


if __name__ == "__main__":
    _main()
