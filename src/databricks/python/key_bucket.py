# The bucket of an item's key text (`_ddb_bucket`), for a Databricks SQL warehouse.
#
# The number this returns is what bucketOf(key, buckets) in src/lake/key-identity.ts returns: FNV-1a
# 32 of the UTF-8 bytes of the key text, modulo buckets, a lone surrogate encoded as U+FFFD as
# TextEncoder does. A bucket count that assertBucketCount refuses is refused here with the same
# message (its RangeError's text, raised as ValueError). The bucket of a key decides which files
# hold it, so this never changes for an existing table; test/databricks/python compares the two on
# generated keys.
#
# Everything above the END OF BODY line is the body of the Unity Catalog function that
# src/databricks/bucket-function.ts creates: python-function.ts appends
# `return ddb_bucket(key, buckets)`.
# Databricks runs such a body as the body of a Python function whose parameters are visible by
# name, and takes what it returns as the result (None for NULL); a NULL argument arrives as None
# (CREATE FUNCTION, Databricks SQL language reference: LANGUAGE PYTHON, AS dollar-quoted body).
# So the body must:
#   - use the standard library only (here, nothing at all);
#   - not use `from __future__`, `global`, or type annotations newer than Python 3.8;
#   - not contain two dollar signs in a row (they end the dollar-quoted body);
#   - keep no data in multi-line string literals, so indenting the body cannot change a value.
# Below the END OF BODY line, the file is a command for tests: one JSON array [key, buckets] per
# line of stdin (either may be null), one JSON line per input on stdout.

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MAX_BUCKETS = 4096


def _utf8(text):
    """The UTF-8 bytes of text as TextEncoder gives them for the same JavaScript string.

    A str holds surrogate code points only when something put them there one by one (a SQL string
    is UTF-8, which has none). JavaScript would read a high one followed by a low one as one
    character above U+FFFF and encodes any other as U+FFFD: going through UTF-16 does the same.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        units = text.encode("utf-16-le", "surrogatepass")
        return units.decode("utf-16-le", "replace").encode("utf-8")


def _fnv1a32_utf8(text):
    """FNV-1a, 32 bits, over the UTF-8 bytes of text: an unsigned 32-bit integer."""
    state = _FNV_OFFSET
    for byte in _utf8(text):
        state = ((state ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return state


def ddb_bucket(key, buckets):
    """The bucket (0 to buckets - 1) of a key text; None for a None key.

    Raises ValueError when buckets is not an integer from 1 to 4096 (None included), whatever the
    key, as bucketOf checks the count first; the message is assertBucketCount's.
    """
    if buckets is None or isinstance(buckets, bool) or not isinstance(buckets, int):
        got = "NULL" if buckets is None else repr(buckets)
    elif buckets < 1 or buckets > _MAX_BUCKETS:
        got = str(buckets)
    else:
        got = None
    if got is not None:
        raise ValueError("a bucket count must be an integer from 1 to %d, got %s" % (_MAX_BUCKETS, got))
    if key is None:
        return None
    return _fnv1a32_utf8(key) % buckets


# ---- END OF BODY ----


def _main():
    import json
    import sys

    for line in sys.stdin.buffer.read().split(b"\n")[:-1]:
        try:
            key, buckets = json.loads(line.decode("utf-8"))
            result = json.dumps(ddb_bucket(key, buckets))
        except Exception as error:  # every failure is reported on its own line
            result = json.dumps({"error": str(error), "type": type(error).__name__})
        sys.stdout.write(result + "\n")


if __name__ == "__main__":
    _main()
