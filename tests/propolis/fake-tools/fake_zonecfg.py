"""The fake zonecfg: its command language lexed and parsed as illumos
zonecfg does it (illumos-gate usr/src/cmd/zonecfg/zonecfg_lex.l, stored
commit 622f35bc, and zonecfg_grammar.y):

- `;` and newlines end a command; `#` starts a comment only where a command
  starts, so a `#` inside a value is kept;
- an unquoted `[` opens a list (`[a,b]`) and `(` a complex value; unquoted
  words cannot hold space, tab, `"`, `;`, `=`, `[`, `]`, `(` or `)`
  (nor `,` inside a list or a complex value);
- `"..."` quotes a value; there is no escape, and an unterminated quote
  runs to the end of the line (taking the newline with it);
- a syntax error is reported as `syntax error on line N at 'TOKEN'`.

`info` and `export` print values through zonecfg.c's quoteit(): quoted
only when they contain a space.
"""

import json

import fake_tool as ft

SCALARS = ("brand", "zonepath", "ip-type", "autoboot", "limitpriv", "hostid", "bootargs",
           "scheduling-class", "pool", "fs-allowed")
RESOURCES = ("net", "device", "attr", "fs", "capped-memory", "dedicated-cpu", "rctl", "dataset")
NEEDED = {"net": ["physical"], "device": ["match"], "attr": ["name", "type", "value"],
          "fs": ["dir", "special", "type"]}


# ---------------------------------------------------------------- lexer

def stops(state):
    base = ' \t\n";=[]()'
    return base + "," if state in ("LSTATE", "CSTATE") else base


def lex(text):
    """The commands in `text`: a list of (line number, tokens), each token
    (kind, text) with kind "w" (a word or quoted string) or the punctuation
    itself ("=", "[", "]", ",", "(", ")"); a character no rule takes is
    ("?", char)."""
    cmds, cur, line, start, state, i = [], [], 1, 1, "INITIAL", 0

    def end_command():
        nonlocal cur, state
        if cur:
            cmds.append((start, cur))
        cur, state = [], "INITIAL"

    while i < len(text):
        c = text[i]
        if c == "\n":
            end_command()
            line += 1
            i += 1
            continue
        if c in " \t":
            i += 1
            continue
        if c == ";":
            end_command()
            i += 1
            continue
        if c == "#" and state == "INITIAL":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        if not cur:
            start = line
        if c == '"' and state != "CSTATE":
            j = i + 1
            while j < len(text) and text[j] not in '"\n':
                j += 1
            cur.append(("w", text[i + 1:j]))
            if j < len(text) and text[j] == "\n":
                line += 1
            i = j + 1
            state = "TSTATE" if state == "INITIAL" else state
            continue
        if c in "=,":
            cur.append((c, c))
        elif c == "[" and state in ("INITIAL", "TSTATE"):
            cur.append((c, c))
            state = "LSTATE"
        elif c == "]" and state == "LSTATE":
            cur.append((c, c))
            state = "TSTATE"
        elif c == "(" and state in ("INITIAL", "TSTATE"):
            cur.append((c, c))
            state = "CSTATE"
        elif c == ")" and state == "CSTATE":
            cur.append((c, c))
            state = "TSTATE"
        elif c in stops(state):
            cur.append(("?", c))
        else:
            j = i
            while j < len(text) and text[j] not in stops(state):
                j += 1
            cur.append(("w", text[i:j]))
            state = "TSTATE" if state == "INITIAL" else state
            i = j
            continue
        i += 1
    end_command()
    return cmds


# ---------------------------------------------------------------- parser

class Syntax(Exception):
    def __init__(self, token):
        super().__init__(token)
        self.token = token


class Tokens:
    def __init__(self, toks):
        self.toks, self.i = toks, 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind="w"):
        t = self.peek()
        if t is None or t[0] != kind:
            raise Syntax(t[1] if t else "\\n")
        self.i += 1
        return t[1]

    def value(self):
        """A simple value, a list (returned as a Python list) or a complex
        value (returned with its parentheses)."""
        t = self.peek()
        if t and t[0] == "[":
            self.take("[")
            items = []
            while self.peek() and self.peek()[0] != "]":
                if items:
                    self.take(",")
                items.append(self.take())
            self.take("]")
            return items
        if t and t[0] == "(":
            parts = []
            while self.peek() and self.peek()[0] != ")":
                parts.append(self.peek()[1])
                self.i += 1
            self.take(")")
            return "".join(parts) + ")"
        return self.take()

    def end(self):
        t = self.peek()
        if t is not None:
            raise Syntax(t[1])

    def conditions(self):
        conds = {}
        while self.peek():
            k = self.take()
            self.take("=")
            conds[k] = self.take()
        return conds


def run_commands(st, zname, text, where):
    """Runs zonecfg commands from a command file or the command line;
    returns what info/export print."""
    zones = st["zones"]
    zone = zones.get(zname)
    pending = None if zone is None else json.loads(json.dumps(zone))
    res, out, changed = None, [], False
    for lineno, toks in lex(text):
        t = Tokens(toks)
        try:
            cmd = t.take()
            if cmd in ("info", "export"):
                if pending is None:
                    raise ft.ToolError(f"{zname}: No such zone configured")
                if cmd == "info":
                    what = t.take() if t.peek() else None
                    out.append(info(zname, pending, what, t.conditions()))
                else:
                    t.end()
                    out.append(export(pending))
                continue
            if cmd == "delete":
                flags = [t.take() for _ in range(len(toks) - 1)]
                delete(zones, zname, flags)
                return ""
            if cmd == "create":
                while t.peek():
                    t.take()
                if zone is not None:
                    raise ft.ToolError(f"{where(lineno)}Zone {zname} already exists; "
                                       f"delete it first or use 'zonecfg -z {zname}' to modify it.")
                pending = {"brand": "ipkg", "zonepath": None, "ip-type": "shared",
                           "autoboot": "false", "state": "configured", "zoneid": None, "net": [],
                           "device": [], "attr": [], "fs": [], "uuid": None}
                changed = True
                continue
            if pending is None:
                raise ft.ToolError(f"{zname}: No such zone configured\n"
                                   "Use 'create' to begin configuring a new zone.")
            res = command(cmd, t, pending, zone, zname, res, where(lineno))
            changed = changed or cmd not in ("commit", "verify", "exit")
            if cmd == "exit":
                break
        except Syntax as e:
            raise ft.ToolError(f"{where(lineno)}syntax error on line {lineno} at '{e.token}'")
    if res is not None:
        raise ft.ToolError(f"{where(lineno)}resource incomplete")
    if pending is not None and changed:
        if not pending.get("zonepath"):
            raise ft.ToolError(f"{zname}: zonepath cannot be empty.\nzonepath not specified")
        zones[zname] = pending
    return "".join(out)


def command(cmd, t, pending, zone, zname, res, where):
    """One configuration command; returns the resource being edited."""
    if cmd == "set":
        key = t.take()
        t.take("=")
        value = t.value()
        t.end()
        if isinstance(value, list):
            raise ft.ToolError(f"{where}A simple value was expected here.")
        if res is not None:
            res[1][key] = value
        elif key in SCALARS:
            if key == "ip-type" and value not in ("shared", "exclusive"):
                raise ft.ToolError(f"{where}{value}: invalid ip-type")
            if key == "brand" and zone is not None and zone["state"] != "configured":
                raise ft.ToolError(f"{where}Cannot change brand: zone {zname} is not "
                                   f"in the configured state.")
            pending[key] = value
        else:
            raise ft.ToolError(f"{where}{key}: unknown property")
        return res
    if cmd == "add":
        what = t.take()
        if res is not None:
            value = t.value()
            t.end()
            res[1].setdefault(what, []).extend(value if isinstance(value, list) else [value])
            return res
        t.end()
        if what not in RESOURCES:
            raise Syntax(what)
        return (what, {})
    if cmd == "end":
        t.end()
        if res is None:
            raise ft.ToolError(f"{where}end: not in resource scope")
        kind, props = res
        missing = [p for p in NEEDED.get(kind, []) if p not in props]
        if missing:
            raise ft.ToolError(f"{where}{missing[0]} not specified")
        pending.setdefault(kind, []).append(props)
        return None
    if cmd == "remove":
        words = []
        while t.peek() and t.peek()[0] == "w" and (t.i + 1 >= len(t.toks) or t.toks[t.i + 1][0] != "="):
            words.append(t.take())
        conds = t.conditions()
        kinds = [w for w in words if w != "-F"]
        if not kinds:
            raise Syntax("\\n")
        kind = kinds[0]
        if not conds:
            pending[kind] = []
            return res
        before = len(pending.get(kind, []))
        pending[kind] = [r for r in pending.get(kind, [])
                         if not all(r.get(k) == v for k, v in conds.items())]
        if len(pending[kind]) == before:
            raise ft.ToolError(f"{where}No such {kind} resource.")
        return res
    if cmd in ("commit", "exit", "verify"):
        if res is not None:
            raise ft.ToolError(f"{where}resource incomplete; use 'end' or 'cancel'")
        return res
    if cmd == "cancel":
        return None
    raise ft.ToolError(f"{where}{cmd}: unknown command")


def delete(zones, zname, flags):
    if zname not in zones:
        raise ft.ToolError(f"{zname}: No such zone configured")
    if "-F" not in flags:
        raise ft.ToolError("zonecfg: delete requires -F when not interactive", 2)
    if zones[zname]["state"] not in ("configured", "incomplete"):
        raise ft.ToolError(f"Zone {zname} is in the {zones[zname]['state']} state; "
                           f"it must be uninstalled before it can be deleted.")
    del zones[zname]


# ---------------------------------------------------------------- output

def quoteit(value):
    """zonecfg.c quoteit(): a value is quoted only when it holds a space."""
    if isinstance(value, list):
        return "[" + ",".join(quoteit(v) for v in value) + "]"
    value = "" if value is None else str(value)
    return f'"{value}"' if " " in value else value


def resource_lines(kind, r, prefix="\t"):
    return [f"{kind}:"] + [f"{prefix}{k}: {quoteit(v)}" for k, v in r.items()]


def info(zname, z, what, conds):
    if what in ("zonepath", "brand", "autoboot", "ip-type", "limitpriv"):
        return f"{what}: {quoteit(z.get(what) or '')}\n"
    out = []
    if what:
        for r in z.get(what, []):
            if all(r.get(k) == v for k, v in conds.items()):
                out += resource_lines(what, r)
        return "\n".join(out) + ("\n" if out else "")
    out = [f"zonename: {zname}", f"zonepath: {quoteit(z['zonepath'])}", f"brand: {z['brand']}",
           f"autoboot: {z['autoboot']}", "bootargs: ", "pool: ",
           f"limitpriv: {quoteit(z.get('limitpriv') or '')}", "scheduling-class: ",
           f"ip-type: {z['ip-type']}", "hostid: ", "fs-allowed: "]
    for kind in ("fs", "net", "device", "attr"):
        for r in z.get(kind, []):
            out += resource_lines(kind, r)
    return "\n".join(out) + "\n"


def export(z):
    out = ["create -b", f"set brand={z['brand']}", f"set zonepath={quoteit(z['zonepath'])}",
           f"set autoboot={z['autoboot']}", f"set ip-type={z['ip-type']}"]
    if z.get("limitpriv"):
        out.append(f"set limitpriv={quoteit(z['limitpriv'])}")
    for kind in ("fs", "net", "device", "attr"):
        for r in z.get(kind, []):
            out.append(f"add {kind}")
            for k, v in r.items():
                if k == "options":
                    out += [f"add options {quoteit(o)}" for o in v]
                else:
                    out.append(f"set {k}={quoteit(v)}")
            out.append("end")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- entry

def main(st, args):
    opts, ops = ft.getopt(args, "z:f:")
    zname = next((v for f, v in opts if f == "z"), None)
    cmdfile = next((v for f, v in opts if f == "f"), None)
    if zname is None:
        raise ft.ToolError("usage:\tzonecfg -z <zone> (interactive)\n\tzonecfg -z <zone> <command>\n"
                           "\tzonecfg -z <zone> -f <command-file>", 253)
    if ft.in_zone():
        raise ft.ToolError("zonecfg: the zone simulator has no zonecfg inside a zone", 1)
    if cmdfile:
        try:
            with open(cmdfile, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ft.ToolError(f"zonecfg: could not open file {cmdfile}: {e.strerror}")
        return run_commands(st, zname, text, lambda n: f"On line {n} of {cmdfile}:\n")
    if not ops:
        raise ft.ToolError("zonecfg: interactive mode is not emulated; use -f FILE or a command", 2)
    # zonecfg joins its arguments with spaces and parses them as one line.
    return run_commands(st, zname, " ".join(ops), lambda n: "")
