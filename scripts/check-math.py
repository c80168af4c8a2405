#!/usr/bin/env python3
"""Fail on math that mdBook would break: a single backslash before ASCII punctuation.

mdBook's Markdown parser treats `\\,` as an escaped comma before KaTeX ever sees the math,
so `\\,` `\\;` `\\!` `\\{` `\\|` ... inside \\( ... \\) or \\[ ... \\] turn into literal
punctuation in the browser. Write them with two backslashes (`\\\\,`). `\\_` and `\\*` are
meant (they keep Markdown from reading emphasis) and pass. Code blocks and inline code are
skipped. Usage: scripts/check-math.py FILE.md...
"""
import re
import sys

BAD = re.compile(r"(?<!\\)\\([,;:!>{}|#~^])")
# Math as written in the Markdown source: \\( ... \\) inline, \\[ ... \\] displayed.
MATH = re.compile(r"\\\\\((.*?)\\\\\)|\\\\\[(.*?)\\\\\]", re.S)


def prose(text):
    """The text outside fenced code blocks and inline code spans (line breaks kept)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            out.append("")
            continue
        out.append("" if fenced else re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


# A math delimiter with one backslash: mdBook turns `\(` into a plain `(`, and KaTeX never
# sees the math. (Two backslashes in the source: `\\(`.)
SINGLE = re.compile(r"(?<!\\)\\[()\[\]]")


def main(paths):
    bad = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            raw = f.read()
        for i, line in enumerate(raw.splitlines(), 1):
            if any(ord(c) < 32 and c != "\t" for c in line):
                bad += 1
                print(f"{path}:{i}: a control character (a backslash escape read by a program?): {line.strip()[:80]!r}")
        text = prose(raw)
        for m in SINGLE.finditer(text):
            bad += 1
            line = text.count("\n", 0, m.start()) + 1
            print(f"{path}:{line}: math delimiter `{m.group(0)}` with one backslash is eaten by mdBook (write `\\{m.group(0)}`)")
        for span in MATH.finditer(text):
            body = span.group(1) if span.group(1) is not None else span.group(2)
            for m in BAD.finditer(body):
                bad += 1
                line = text.count("\n", 0, span.start()) + 1
                print(f"{path}:{line}: `\\{m.group(1)}` in math is eaten by mdBook (write `\\\\{m.group(1)}`): {body.strip()[:80]}")
    if bad:
        print(f"{bad} math escape(s) that would render as literal punctuation", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
