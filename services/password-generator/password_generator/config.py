"""Limits that keep one request from exhausting memory or CPU.

The largest request (MAX_COUNT passwords of MAX_LENGTH characters) is 100 x
1,024 = 102,400 characters: about 100 KB of JSON and a few tens of
milliseconds of CPU.
"""

MAX_LENGTH = 1024
MAX_COUNT = 100
