#!/usr/bin/env python3
"""Enable containerd's NRI in a user's config.toml without rewriting the rest of it.

Writing TOML back from a parsed document would drop the user's comments and layout, so the
file is edited as text and every result is checked by parsing it with tomllib:

* no NRI table anywhere: a marked block with the table is appended at the end;
* an `[plugins."io.containerd.nri.v1.nri"]` table that disables NRI: the offending lines are
  replaced in place (or `disable = false` is inserted under the header, since the default is
  true), each marked with the line it replaced;
* NRI already enabled: nothing to do.

The check after editing requires that the result parses, that NRI is enabled with external
connections, and that every other setting is exactly what it was. Anything else (NRI set
through an inline table or dotted keys, a version 1 config) is refused with a message rather
than guessed at. `revert` undoes only the marked edits, for a config changed after install.

    containerd_nri.py inspect CONFIG          JSON facts about CONFIG (may not exist)
    containerd_nri.py enable CONFIG OUT       write CONFIG with NRI enabled to OUT
    containerd_nri.py revert CONFIG OUT       write CONFIG without palisade's edits to OUT
"""

import copy
import json
import re
import sys
import tomllib

NRI_ID = "io.containerd.nri.v1.nri"
BEGIN = "# >>> palisade: NRI enabled by palisade install.sh (uninstall.sh removes this block) >>>"
END = "# <<< palisade <<<"
WAS = "# palisade-install-was: "
ADDED = "# palisade-install-added"
# The settings palisade needs, with containerd 1.7's defaults for keys left out.
WANTED = {"disable": (False, True), "disable_connections": (False, False)}
BLOCK = [
    BEGIN,
    f'[plugins."{NRI_ID}"]',
    "  disable = false",
    "  disable_connections = false",
    "  # the agent connects here; keep in step with nri_socket in /etc/palisade/config",
    '  socket_path = "/var/run/nri/nri.sock"',
    END,
]
HEADER = re.compile(
    r"""^\s*\[\s*plugins\s*\.\s*(?:"io\.containerd\.nri\.v1\.nri"|'io\.containerd\.nri\.v1\.nri')\s*\]\s*(?:#.*)?$"""
)
ANY_HEADER = re.compile(r"^\s*\[")
BLOCK_TABLE = {"disable": False, "disable_connections": False, "socket_path": "/var/run/nri/nri.sock"}


class Refused(Exception):
    """The config cannot be edited safely; the message tells the user what to do."""


def parse(text, what):
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise Refused(f"{what} is not valid TOML: {e}") from e


def nri_table(doc):
    plugins = doc.get("plugins", {})
    return plugins.get(NRI_ID) if isinstance(plugins, dict) else None


def nri_enabled(table):
    return table is not None and all(table.get(k, d) == want for k, (want, d) in WANTED.items())


def check_version(doc, path):
    version = doc.get("version", 1)
    if version not in (2, 3):
        raise Refused(
            f"{path} is a version {version} containerd config; palisade edits versions 2 and 3 only "
            "(convert it with `containerd config migrate` or pass --no-containerd and enable NRI yourself)"
        )


def split_lines(text):
    """Lines without their endings, the newline style, and whether the text ended with one."""
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(nl)
    trailing = lines[-1] == ""
    if trailing:
        lines.pop()
    return lines, nl, trailing


def join_lines(lines, nl):
    return "".join(line + nl for line in lines)


def table_span(lines):
    """(header index, end index) of the NRI table, or None when there is no such header."""
    starts = [i for i, line in enumerate(lines) if HEADER.match(line)]
    if not starts:
        return None
    if len(starts) > 1:
        raise Refused(f'[plugins."{NRI_ID}"] appears {len(starts)} times')
    start = starts[0]
    end = next((j for j in range(start + 1, len(lines)) if ANY_HEADER.match(lines[j])), len(lines))
    return start, end


def enable_text(text, path):
    doc = parse(text, path)
    if doc:
        check_version(doc, path)
    table = nri_table(doc)
    if nri_enabled(table):
        return text, "unchanged"
    lines, nl, trailing = split_lines(text)
    if table is None:
        # a config with no settings at all is read as version 1: say which schema the block uses
        lines += ([""] if lines else []) + BLOCK[:1] + ([] if doc else ["version = 2"]) + BLOCK[1:]
        out, action = join_lines(lines, nl), "appended"
    else:
        span = table_span(lines)
        if span is None:
            raise Refused(
                f'{path} defines the NRI plugin table without a [plugins."{NRI_ID}"] header '
                "(inline table or dotted keys); set `disable = false` there yourself and pass --no-containerd"
            )
        start, end = span
        indent = re.match(r"\s*", lines[start]).group(0) + "  "
        for key, (want, default) in WANTED.items():
            value = "true" if want else "false"
            key_re = re.compile(rf"^(\s*){key}\s*=")
            hits = [j for j in range(start + 1, end) if key_re.match(lines[j])]
            if hits:
                j = hits[0]
                if table.get(key) != want:
                    lines[j] = f"{key_re.match(lines[j]).group(1)}{key} = {value} {WAS}{lines[j]}"
            elif key in table:
                raise Refused(f"{path}: cannot find the line that sets NRI's {key}; edit it yourself")
            elif default != want:
                lines.insert(start + 1, f"{indent}{key} = {value} {ADDED}")
                end += 1
        out, action = join_lines(lines, nl), "edited"
        if not trailing:
            out = out[: -len(nl)]
    verify(doc, out, path, appended=action == "appended")
    return out, action


def verify(before, text, path, appended):
    """The edit must enable NRI and change nothing else."""
    after = parse(text, f"{path} after palisade's edit")
    if not nri_enabled(nri_table(after)):
        raise Refused(f"{path}: the edit did not enable NRI (unexpected layout); enable it yourself")
    a, b = copy.deepcopy(after), copy.deepcopy(before)
    if appended:
        if nri_table(a) != BLOCK_TABLE:
            raise Refused(f"{path}: the appended NRI table merged with existing settings; enable NRI yourself")
        del a["plugins"][NRI_ID]
        if "plugins" not in b:
            del a["plugins"]
        if not b:
            a.pop("version", None)
    else:
        for key in WANTED:
            nri_table(a).pop(key, None)
            nri_table(b).pop(key, None)
    if a != b:
        raise Refused(f"{path}: the edit would change other settings; enable NRI yourself")


def revert_text(text):
    lines, nl, trailing = split_lines(text)
    out, inside = [], False
    for line in lines:
        if line == BEGIN:
            inside = True
            if out and out[-1] == "":
                out.pop()  # the blank line put before the block
            continue
        if inside:
            inside = line != END
            continue
        if line.rstrip().endswith(ADDED):
            continue
        at = line.find(WAS)
        out.append(line[at + len(WAS):] if at >= 0 else line)
    if inside:
        raise Refused("the palisade block has no end marker; remove it by hand")
    if not out:
        return ""
    joined = join_lines(out, nl)
    return joined if trailing else joined[: -len(nl)]


def inspect(path):
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        return {"exists": False, "nri": "absent", "socket_path": "/var/run/nri/nri.sock", "marked": False}
    doc = parse(text, path)
    table = nri_table(doc)
    state = "absent" if table is None else "enabled" if nri_enabled(table) else "disabled"
    return {
        "exists": True,
        "version": doc.get("version", 1),
        "nri": state,
        "socket_path": (table or {}).get("socket_path", "/var/run/nri/nri.sock"),
        "marked": BEGIN in text or WAS in text or ADDED in text,
    }


def main(argv):
    if len(argv) < 2 or argv[0] not in ("inspect", "enable", "revert"):
        print(__doc__, file=sys.stderr)
        return 2
    cmd, path = argv[0], argv[1]
    try:
        if cmd == "inspect":
            print(json.dumps(inspect(path), sort_keys=True))
            return 0
        try:
            with open(path, encoding="utf-8", newline="") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        if cmd == "enable":
            out, action = enable_text(text, path)
        else:
            out, action = revert_text(text), "reverted"
            if out.strip():
                parse(out, f"{path} after removing palisade's edit")
        with open(argv[2], "w", encoding="utf-8", newline="") as f:
            f.write(out)
        print(action)
        return 0
    except Refused as e:
        print(f"containerd config: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
