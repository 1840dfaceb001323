#!/usr/bin/env python3
"""Fails when a library source names vmctl syntax in a string literal.

Programs embed the library, so the texts it shows (messages, help lines)
must not tell their users to type vmctl commands or flags; the CLI adds
those hints by error code (src/vmctl/hints.cpp). A literal is refused when it
holds "'vmctl ", "vmctl <command>" or " --<letter>". Comments are skipped:
they talk to developers. src/vmctl/ is the CLI and may name its own flags.
A line that must pass such text on to another program (a command run in the
guest) says so with the marker "not-vmctl-syntax:" in a comment.

  check-no-vmctl-syntax.py SRC_DIR
"""
import pathlib
import re
import sys

COMMANDS = ("create|start|stop|suspend|resume|destroy|list|status|console|log|image|ssh|ssh-config|cp|"
            "validate|up|down|reload|provision|port")
FORBIDDEN = re.compile(r"'vmctl |\bvmctl (?:" + COMMANDS + r")\b| --[A-Za-z]")
MARKER = "not-vmctl-syntax:"


def literals(text):
    """Yields (line number, text) of each string literal, skipping comments and char literals."""
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            open_paren = text.find("(", i + 2)
            close = ")" + text[i + 2:open_paren] + '"'
            end = text.find(close, open_paren)
            end = n if end < 0 else end + len(close)
            yield line, text[open_paren + 1:end]
            line += text.count("\n", i, end)
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            if c == '"':
                yield line, text[i + 1:j]
            i = j + 1
        else:
            i += 1


def main():
    src = pathlib.Path(sys.argv[1])
    hits = []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".cpp", ".hpp", ".in") or "vmctl" in path.relative_to(src).parts[:1]:
            continue
        text = path.read_text(errors="replace")
        lines = text.splitlines()
        for number, literal in literals(text):
            if FORBIDDEN.search(literal) and MARKER not in lines[number - 1]:
                hits.append(f"{path}:{number}: \"{literal}\"")
    if hits:
        print("the library names vmctl commands or flags; say the remedy in plain words and let "
              "src/vmctl/hints.cpp add the vmctl hint:")
        print("\n".join(hits))
        return 1
    print("check-no-vmctl-syntax: no library string names a vmctl command or flag")
    return 0


if __name__ == "__main__":
    sys.exit(main())
