# SPDX-License-Identifier: GPL-2.0-only
"""commands.py FILE...: the commands that host shell scripts run.

Prints "NAME FILE:LINE" for each word in command position: the first word of
a command line, of a pipeline stage, after && || ; & !, after the keywords
that start a command list (then, do, else...), inside $( ) and backquotes
(in double quotes too), and the command that a wrapper runs (timeout, env,
exec, xargs...). Comments and here-document bodies are skipped, and so are
variable assignments, redirections and words that are not plain names
(paths, expansions). Used by commands-check.sh.
"""
import re
import sys

# Words after which the next word is a command again.
KEYWORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "time", "{", "}"}
# Wrappers: how many arguments they take before the command they run.
WRAPPERS = {"exec": 0, "command": 0, "nice": 0, "xargs": 0, "sudo": 0, "env": 0,
            "timeout": 1, "flock": 1}
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.+-]*$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
HEREDOC = re.compile(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?")


def commands(text):
    """(line, name) of each word in command position in a script's text."""
    out, words, word, stack = [], [], "", []
    line, quote, heredocs, i = 1, None, [], 0
    word_line = 1

    def flush():
        nonlocal word
        if word:
            words.append((word, word_line))
        word = ""

    def end_segment(pattern=False):
        nonlocal words
        flush()
        if not pattern:
            out.extend(first_command(words))
        words = []

    while i < len(text):
        c = text[i]
        if not word:
            word_line = line
        if c == "\n":
            line += 1
        if quote == "'":
            if c == "'":
                quote = None
            word += c
        elif c == "\\":
            word += text[i:i + 2]
            line += text[i + 1:i + 2] == "\n"
            i += 1
        elif text.startswith("${", i) or text.startswith("$((", i) or \
                (c == "(" and quote is None and ASSIGNMENT.match(word + "=")
                 and word.endswith("=")):
            # An expansion, arithmetic or an array's words: part of the word.
            j = matching(text, i + (c != "("))
            word += text[i:j]
            line += text.count("\n", i, j)
            i = j
            continue
        elif text.startswith("$(", i):
            stack.append((words, word, quote))
            words, word, quote = [], "", None
            i += 1
        elif c == ")" and quote is None:
            # A ")" nothing opened ends a case pattern: no command.
            end_segment(pattern=not stack)
            if stack and stack[-1] is not None:
                words, word, quote = stack.pop()
                word += "$(...)"
            elif stack:
                stack.pop()
        elif quote == '"':
            if c == '"':
                quote = None
            word += c
        elif c in "'\"":
            quote = c
            word += c
        elif c == "#" and not word:
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif c == "<" and text.startswith("<<", i) and not text.startswith("<<<", i):
            m = HEREDOC.match(text, i)
            if m:
                heredocs.append(m.group(1))
                i = m.end()
                continue
            word += c
        elif c == "\n":
            end_segment()
            for end in heredocs:
                while i < len(text):
                    nl = text.find("\n", i + 1)
                    nl = len(text) if nl < 0 else nl
                    body = text[i + 1:nl]
                    line += 1
                    i = nl
                    if body.strip() == end:
                        break
            heredocs = []
        elif c in " \t":
            flush()
        elif c == "(":
            end_segment()
            stack.append(None)
        elif c in ";|&{}`":
            end_segment()
        else:
            word += c
        i += 1
    end_segment()
    return out


def matching(text, i):
    """The index after the bracket that closes the one at @i."""
    close = {"{": "}", "(": ")"}[text[i]]
    depth = 0
    for j in range(i, len(text)):
        if text[j] == text[i]:
            depth += 1
        elif text[j] == close:
            depth -= 1
            if not depth:
                return j + 1
    return len(text)


def first_command(words):
    """(line, name) of the command a simple command's words run (and of
    the one a wrapper runs)."""
    found = []
    i = 0
    while i < len(words):
        w, line = words[i]
        if w in KEYWORDS or ASSIGNMENT.match(w) or re.match(r"^[0-9]*[<>]", w):
            i += 1
            continue
        if not NAME.match(w):
            break
        found.append((line, w))
        if w in WRAPPERS:
            i += 1
            skip = WRAPPERS[w]
            while i < len(words) and (words[i][0].startswith("-") or
                                      ASSIGNMENT.match(words[i][0])):
                i += 1
            i += skip
            continue
        break
    return found


def main():
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            for line, name in commands(f.read()):
                print(f"{name} {path}:{line}")


if __name__ == "__main__":
    main()
