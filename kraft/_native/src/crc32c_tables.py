import json, re, sys
def load(path):
    txt = open(path).read()
    txt = "\n".join(l for l in txt.splitlines() if not l.strip().startswith("//"))
    return json.loads(txt)

def fmt_field(f, ind):
    args = [repr(f["name"]), repr(f["type"]), repr(f["versions"])]
    if "nullableVersions" in f: args.append(f"nullable={f['nullableVersions']!r}")
    if "default" in f:
        d = f["default"]
        if isinstance(d, (int,)) and not isinstance(d, bool): d = str(d)
        args.append(f"default={d!r}")
    if "tag" in f: args.append(f"tag={f['tag']}")
    if "taggedVersions" in f: args.append(f"tagged={f['taggedVersions']!r}")
    if f.get("ignorable"): args.append("ignorable=True")
    if "flexibleVersions" in f: args.append(f"flexible={f['flexibleVersions']!r}")
    pad = "    " * ind
    if "fields" in f:
        s = pad + "Field(" + ", ".join(args) + ", fields=(\n"
        for sub in f["fields"]:
            s += fmt_field(sub, ind + 1)
        s += pad + ")),\n"
        return s
    return pad + "Field(" + ", ".join(args) + "),\n"

def fmt_message(m, var):
    kind = m["type"]
    s = f"{var} = MessageSchema(\n    {m['name']!r}, {kind!r},"
    if "apiKey" in m: s += f" api_key={m['apiKey']},"
    s += f"\n    valid={m['validVersions']!r}, flexible={m['flexibleVersions']!r},\n    fields=(\n"
    for f in m["fields"]:
        s += fmt_field(f, 2)
    s += "    ),\n"
    if "commonStructs" in m:
        s += "    common_structs=(\n"
        for c in m["commonStructs"]:
            s += f"        StructSchema({c['name']!r}, {c['versions']!r}, fields=(\n"
            for f in c["fields"]:
                s += fmt_field(f, 3)
            s += "        )),\n"
        s += "    ),\n"
    s += ")\n"
    return s

if __name__ == "__main__":
    for p in sys.argv[1:]:
        m = load(p)
        var = re.sub(r'(?<!^)(?=[A-Z][a-z])', '_', m["name"]).upper()
        print(fmt_message(m, var))
