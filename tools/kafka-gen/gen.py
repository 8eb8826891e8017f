#!/usr/bin/env python3
"""Generates the project's Kafka message codecs from Apache Kafka's JSON message schemas.

Run by hand (the build never runs it, and never reads ../shared):

    make regen-kafka SCHEMAS=../shared/kafka-protocol/messages

For each API in APIS it writes common/kmsg/cm_kmsg_<api>.{h,c}: one C struct per message
and nested struct, with decode (into views of the input plus arena-allocated arrays),
encode, init (schema defaults) functions that take the message version. It also writes
common/kmsg/cm_kapi.c, the table of every API key, its name, valid and flexible versions.

What the generated code guarantees:
- decode never reads past its input and never allocates for an array count that cannot
  fit in the bytes left (see cm_kr_array_len);
- fields absent from a version keep their schema default on decode and are not written
  on encode;
- tagged fields: known ones are decoded in place; unknown ones are skipped; on encode a
  tagged field is written only when it differs from its default, tags in ascending order.
"""
import json
import os
import re
import subprocess
import sys

# The APIs this project speaks. Add one here and re-run to get its codec.
APIS = [
    "ApiVersions", "Metadata", "Produce", "Fetch", "ListOffsets",
    "CreateTopics", "DeleteTopics", "CreatePartitions",
    "DescribeConfigs", "AlterConfigs", "IncrementalAlterConfigs",
    "SaslHandshake", "SaslAuthenticate",
    "FindCoordinator", "JoinGroup", "SyncGroup", "Heartbeat", "LeaveGroup",
    "OffsetCommit", "OffsetFetch", "ListGroups", "DescribeGroups", "DeleteGroups",
    "InitProducerId", "DescribeCluster", "OffsetForLeaderEpoch", "DeleteRecords",
]
# Non-API messages (headers, embedded data) generated the same way.
DATA = ["RequestHeader", "ResponseHeader", "ConsumerProtocolSubscription",
        "ConsumerProtocolAssignment"]

PRIMS = {
    "bool": "bool", "int8": "int8_t", "int16": "int16_t", "uint16": "uint16_t",
    "int32": "int32_t", "uint32": "uint32_t", "int64": "int64_t", "float64": "double",
    "string": "cm_kstr_t", "bytes": "cm_kbytes_t", "records": "cm_krecords_t",
    "uuid": "cm_kuuid_t",
}
# Smallest encoded size of one array element, to bound hostile counts.
MIN_SIZE = {"bool": 1, "int8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
            "int64": 8, "float64": 8, "uuid": 16, "string": 1, "bytes": 1, "records": 1}
C_KEYWORDS = {"default", "int", "char", "long", "short", "double", "float", "signed",
              "unsigned", "struct", "union", "enum", "return", "static", "const", "type"}


class Versions:
    """A version range from the schema: "3+", "0-5", "7" or "none"."""

    def __init__(self, spec):
        spec = (spec or "none").strip()
        if spec == "none":
            self.lo, self.hi = None, None
        elif spec.endswith("+"):
            self.lo, self.hi = int(spec[:-1]), 0x7FFF
        elif "-" in spec:
            a, b = spec.split("-")
            self.lo, self.hi = int(a), int(b)
        else:
            self.lo = self.hi = int(spec)

    def none(self):
        return self.lo is None

    def intersect(self, other):
        v = Versions("none")
        if self.none() or other.none():
            return v
        lo, hi = max(self.lo, other.lo), min(self.hi, other.hi)
        if lo <= hi:
            v.lo, v.hi = lo, hi
        return v

    def covers(self, other):
        """True when every version of `other` is in self."""
        if other.none():
            return True
        return not self.none() and self.lo <= other.lo and other.hi <= self.hi

    def cond(self, var="v", within=None):
        """A C condition true for versions in self, simplified within `within`."""
        if self.none():
            return "0"
        if within is not None and self.covers(within):
            return "1"
        if within is not None and self.intersect(within).none():
            return "0"
        parts = []
        if self.lo > 0 and (within is None or self.lo > within.lo):
            parts.append("%s >= %d" % (var, self.lo))
        if self.hi < 0x7FFF and (within is None or self.hi < within.hi):
            parts.append("%s <= %d" % (var, self.hi))
        return " && ".join(parts) if parts else "1"


def snake(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
    return s + "_" if s in C_KEYWORDS else s


def load(path):
    with open(path) as f:
        text = "\n".join(l for l in f.read().split("\n") if not l.strip().startswith("//"))
    return json.loads(text)


class Field:
    def __init__(self, d, msg, parent_flex):
        self.d = d
        self.name = snake(d["name"])
        self.type = d["type"]
        self.versions = Versions(d.get("versions"))
        self.nullable = Versions(d.get("nullableVersions"))
        self.tagged = Versions(d.get("taggedVersions"))
        self.tag = d.get("tag")
        # A field may opt out of flexible encoding (RequestHeader.ClientId).
        self.flex = Versions(d["flexibleVersions"]) if "flexibleVersions" in d else parent_flex
        self.default = d.get("default")
        self.is_array = self.type.startswith("[]")
        self.elem = self.type[2:] if self.is_array else self.type
        self.is_struct = self.elem not in PRIMS
        self.struct = None
        if self.is_struct:
            fields = d.get("fields")
            if fields is None:
                fields = msg.common[self.elem]
            self.struct = Struct(msg, self.elem, fields, parent_flex)
            msg.structs.append(self.struct)
            if not self.is_array and not self.nullable.none():
                sys.exit("gen.py: nullable struct field %s is not supported" % d["name"])

    def ctype(self):
        if self.is_struct:
            return self.struct.ctype
        return PRIMS[self.elem]

    def c_default(self):
        """The C expression of the schema default for a scalar field."""
        t, dv = self.elem, self.default
        if t == "bool":
            return "true" if str(dv).lower() == "true" else "false"
        if t == "string":
            if dv is None or dv == "":
                return None if dv is None else "CM_KSTR(\"\")"
            if dv == "null":
                return "CM_KSTR_NULL"
            return "CM_KSTR(%s)" % json.dumps(dv)
        if t in ("bytes", "records") and dv == "null":
            return "null"
        if t in ("bytes", "records", "uuid"):
            return None
        if dv is None:
            return None
        if t == "float64":
            return str(float(dv))
        return str(int(str(dv), 0))


class Struct:
    def __init__(self, msg, name, fields, flex):
        self.msg = msg
        self.name = name
        short = msg.short_name(name)
        self.ctype = "%s_%s_t" % (msg.prefix, snake(short))
        self.fn = "%s__%s" % (msg.prefix, snake(short))
        self.fields = [Field(f, msg, flex) for f in fields]


class Message:
    def __init__(self, d, prefix):
        self.d = d
        self.prefix = prefix
        self.name = d["name"]
        self.valid = Versions(d["validVersions"])
        self.flex = Versions(d.get("flexibleVersions", "none"))
        self.common = {c["name"]: c["fields"] for c in d.get("commonStructs", [])}
        self.shorts = {}
        self.structs = []
        self.top = Struct(self, self.name, d["fields"], self.flex)
        self.top.ctype = "%s_t" % prefix
        self.top.fn = prefix


def guarded(cond, body):
    """Wraps generated lines (indented 8) in `if (cond)`, or unwraps them when always true."""
    if cond == "1":
        return [l[4:] for l in body]
    return ["    if (%s) {" % cond] + body + ["    }"]


def plain_versions(f, valid):
    """Versions in which f is a plain (untagged) field: tagged versions are a suffix."""
    plain = f.versions.intersect(valid)
    if f.tagged.none() or plain.none():
        return plain
    out = Versions("none")
    if f.tagged.lo > plain.lo:
        out.lo, out.hi = plain.lo, min(plain.hi, f.tagged.lo - 1)
    return out


def _strip(name, lead):
    if name.startswith(lead) and len(name) > len(lead) and name[len(lead)].isupper():
        return name[len(lead):]
    return None


def _short_name(self, name):
    """Drops the message name ("MetadataResponseBroker" -> "Broker") or the API name
    ("FetchTopic" -> "Topic") from a struct's schema name, unless that would collide."""
    if name in self.shorts:
        return self.shorts[name]
    base = re.sub(r"(Request|Response)$", "", self.name)
    short = _strip(name, self.name) or _strip(name, base) or name
    if short in self.shorts.values():
        short = name
    self.shorts[name] = short
    return short


Message.short_name = _short_name


def field_min_size(f):
    if f.is_struct:
        return 1 if f.struct.fields else 0
    return MIN_SIZE[f.elem]


class Emitter:
    def __init__(self, msg):
        self.msg = msg
        self.h = []
        self.c = []

    # ---- declarations ----
    def decl_struct(self, s):
        out = ["/** %s. */" % s.name, "typedef struct %s {" % s.ctype[:-2]]
        for f in s.fields:
            about = f.d.get("about", "").replace("*/", "* /")
            out.append("    /* %s (versions %s) */" % (about.strip(), f.d.get("versions")))
            if f.is_array:
                out.append("    %s *%s;" % (f.ctype(), f.name))
                out.append("    int32_t %s_n; /* -1 when null */" % f.name)
            else:
                out.append("    %s %s;" % (f.ctype(), f.name))
        if not s.fields:
            out.append("    char unused_;")
        out.append("} %s;" % s.ctype)
        return out

    # ---- init ----
    def gen_init(self, s):
        c = self.c
        c.append("void %s_init(%s *m)" % (s.fn.replace("__", "_"), s.ctype))
        c.append("{")
        c.append("    memset(m, 0, sizeof(*m));")
        for f in s.fields:
            if f.is_array:
                if f.default == "null":
                    c.append("    m->%s_n = -1;" % f.name)
                continue
            if f.is_struct:
                c.append("    %s_init(&m->%s);" % (f.struct.fn.replace("__", "_"), f.name))
                continue
            dv = f.c_default()
            if dv == "null":
                c.append("    m->%s.len = -1;" % f.name)
            elif dv == "CM_KSTR_NULL":
                c.append("    m->%s = CM_KSTR_NULL;" % f.name)
            elif dv is not None and dv not in ("0", "false", "0.0"):
                c.append("    m->%s = %s;" % (f.name, dv))
        c.append("}")
        c.append("")

    # ---- decode ----
    def dec_scalar(self, f, target, r, flex_c):
        t = f.elem
        nul = f.nullable.cond()
        if t == "string":
            return "%s = cm_kr_str(%s, %s, %s);" % (target, r, flex_c, nul)
        if t == "bytes":
            return "%s = cm_kr_bytes(%s, %s, %s);" % (target, r, flex_c, nul)
        if t == "records":
            return "%s = cm_kr_records(%s, %s);" % (target, r, flex_c)
        if t == "uuid":
            return "%s = cm_kr_uuid(%s);" % (target, r)
        fn = {"bool": "bool", "int8": "i8", "int16": "i16", "uint16": "u16", "int32": "i32",
              "uint32": "u32", "int64": "i64", "float64": "f64"}[t]
        return "%s = cm_kr_%s(%s);" % (target, fn, r)

    def dec_field(self, f, r, ind, flex_c):
        out = []
        tgt = "m->" + f.name
        if f.is_array:
            nul = f.nullable.cond()
            out.append("n = cm_kr_array_len(%s, %s, %s, %d);" % (r, flex_c, nul, field_min_size(f)))
            out.append("%s_n = n;" % tgt)
            out.append("if (n > 0) {")
            out.append("    %s = cm_arena_calloc(a, (size_t)n, sizeof(*%s));" % (tgt, tgt))
            out.append("    if (%s == NULL)" % tgt)
            out.append("        return -1;")
            out.append("    for (int32_t i = 0; i < n && !%s->err; i++) {" % r)
            if f.is_struct:
                out.append("        if (%s_decode(%s, v, a, &%s[i]) != 0)" % (f.struct.fn, r, tgt))
                out.append("            return -1;")
            else:
                out.append("        " + self.dec_scalar(f, "%s[i]" % tgt, r, flex_c))
            out.append("    }")
            out.append("}")
        elif f.is_struct:
            out.append("if (%s_decode(%s, v, a, &%s) != 0)" % (f.struct.fn, r, tgt))
            out.append("    return -1;")
        else:
            out.append(self.dec_scalar(f, tgt, r, flex_c))
        return [ind + l for l in out]

    def gen_decode(self, s):
        c = self.c
        static = "static " if s is not self.msg.top else ""
        c.append("%sint %s_decode(cm_kr_t *r, int16_t v, cm_arena_t *a, %s *m)" % (static, s.fn, s.ctype))
        c.append("{")
        c.append("    int32_t n = 0;")
        c.append("    (void)n;")
        c.append("    (void)a;")
        if s is self.msg.top:
            c.append("    if (v < %d || v > %d)" % (self.msg.valid.lo, self.msg.valid.hi))
            c.append("        return -1;")
        c.append("    %s_init(m);" % s.fn.replace("__", "_"))
        tagged = []
        for f in s.fields:
            plain = plain_versions(f, self.msg.valid)
            if not f.tagged.none():
                tagged.append(f)
            if plain.none():
                continue
            c.extend(guarded(plain.cond(within=self.msg.valid),
                             self.dec_field(f, "r", "        ", f.flex.cond())))
        if not self.msg.flex.none():
            c.append("    if (%s) {" % self.msg.flex.cond(within=self.msg.valid))
            if tagged:
                c.append("        uint32_t ntags = cm_kr_uvarint(r);")
                c.append("        for (uint32_t t = 0; t < ntags && !r->err; t++) {")
                c.append("            uint32_t tag = cm_kr_uvarint(r);")
                c.append("            uint32_t size = cm_kr_uvarint(r);")
                c.append("            const uint8_t *p = cm_kr_raw(r, size);")
                c.append("            if (p == NULL)")
                c.append("                return -1;")
                c.append("            cm_kr_t sub;")
                c.append("            cm_kr_init(&sub, p, size);")
                c.append("            switch (tag) {")
                for f in sorted(tagged, key=lambda f: f.tag):
                    c.append("            case %d:" % f.tag)
                    c.append("                if (%s) {" % f.tagged.cond())
                    c.extend(self.dec_field(f, "(&sub)", "                    ", "1"))
                    c.append("                    if (sub.err)")
                    c.append("                        return -1;")
                    c.append("                }")
                    c.append("                break;")
                c.append("            default:")
                c.append("                break;")
                c.append("            }")
                c.append("        }")
            else:
                c.append("        cm_kr_skip_tags(r);")
            c.append("    }")
        c.append("    return r->err ? -1 : 0;")
        c.append("}")
        c.append("")

    # ---- encode ----
    def enc_scalar(self, f, src, w, flex_c):
        t = f.elem
        nul = f.nullable.cond()
        if t == "string":
            return "cm_kw_str(%s, %s, %s, %s);" % (w, src, flex_c, nul)
        if t == "bytes":
            return "cm_kw_bytes(%s, %s, %s, %s);" % (w, src, flex_c, nul)
        if t == "records":
            return "cm_kw_records(%s, &%s, %s);" % (w, src, flex_c)
        if t == "uuid":
            return "cm_kw_uuid(%s, %s);" % (w, src)
        fn = {"bool": "bool", "int8": "i8", "int16": "i16", "uint16": "u16", "int32": "i32",
              "uint32": "u32", "int64": "i64", "float64": "f64"}[t]
        return "cm_kw_%s(%s, %s);" % (fn, w, src)

    def enc_field(self, f, w, ind, flex_c):
        out = []
        src = "m->" + f.name
        if f.is_array:
            out.append("cm_kw_array_len(%s, %s_n, %s);" % (w, src, flex_c))
            out.append("for (int32_t i = 0; i < %s_n; i++) {" % src)
            if f.is_struct:
                out.append("    %s_encode(%s, v, &%s[i]);" % (f.struct.fn, w, src))
            else:
                out.append("    " + self.enc_scalar(f, "%s[i]" % src, w, flex_c))
            out.append("}")
        elif f.is_struct:
            out.append("%s_encode(%s, v, &%s);" % (f.struct.fn, w, src))
        else:
            out.append(self.enc_scalar(f, src, w, flex_c))
        return [ind + l for l in out]

    def non_default_cond(self, f):
        """C condition: tagged field f differs from its default (so it must be written)."""
        src = "m->" + f.name
        if f.is_array:
            return "%s_n %s" % (src, "!= -1" if f.default == "null" else "> 0")
        if f.is_struct:
            return "!%s_is_default(&%s)" % (f.struct.fn, src)
        t = f.elem
        dv = f.c_default()
        if t == "string":
            if dv == "CM_KSTR_NULL":
                return "%s.len >= 0" % src
            return "!cm_kstr_eq(%s, %s)" % (src, dv or "CM_KSTR(\"\")")
        if t in ("bytes", "records"):
            return "%s.len %s" % (src, ">= 0" if dv == "null" else "> 0")
        if t == "uuid":
            return "!cm_kuuid_is_zero(%s)" % src
        return "%s != %s" % (src, dv or "0")

    def gen_is_default(self, s):
        c = self.c
        c.append("static inline bool %s_is_default(const %s *m)" % (s.fn, s.ctype))
        c.append("{")
        conds = [self.non_default_cond(f) for f in s.fields]
        c.append("    return !(%s);" % (" || ".join("(%s)" % x for x in conds) or "0"))
        c.append("}")
        c.append("")

    def gen_encode(self, s):
        c = self.c
        static = "static " if s is not self.msg.top else ""
        c.append("%svoid %s_encode(cm_kw_t *w, int16_t v, const %s *m)" % (static, s.fn, s.ctype))
        c.append("{")
        c.append("    (void)v;")
        tagged = []
        for f in s.fields:
            plain = plain_versions(f, self.msg.valid)
            if not f.tagged.none():
                tagged.append(f)
            if plain.none():
                continue
            c.extend(guarded(plain.cond(within=self.msg.valid),
                             self.enc_field(f, "w", "        ", f.flex.cond())))
        if not self.msg.flex.none():
            c.append("    if (%s) {" % self.msg.flex.cond(within=self.msg.valid))
            if not tagged:
                c.append("        cm_kw_uvarint(w, 0);")
            else:
                tagged.sort(key=lambda f: f.tag)
                conds = ["(%s) && (%s)" % (f.tagged.cond(), self.non_default_cond(f)) for f in tagged]
                c.append("        uint32_t ntags = 0;")
                for cond in conds:
                    c.append("        ntags += (%s) ? 1 : 0;" % cond)
                c.append("        cm_kw_uvarint(w, ntags);")
                for f, cond in zip(tagged, conds):
                    c.append("        if (%s) {" % cond)
                    c.append("            cm_kw_t tw;")
                    c.append("            cm_kw_init(&tw, w->limit);")
                    c.extend(self.enc_field(f, "(&tw)", "            ", "1"))
                    c.append("            cm_kw_uvarint(w, %d);" % f.tag)
                    c.append("            cm_kw_uvarint(w, (uint32_t)tw.len);")
                    c.append("            cm_kw_raw(w, tw.buf, tw.len);")
                    c.append("            if (tw.err)")
                    c.append("                w->err = 1;")
                    c.append("            cm_kw_free(&tw);")
                    c.append("        }")
            c.append("    }")
        c.append("}")
        c.append("")

    def generate(self):
        msg = self.msg
        structs = list(msg.structs)  # construction order puts nested structs first
        seen = set()
        ordered = []
        for s in structs:
            if s.ctype not in seen:
                seen.add(s.ctype)
                ordered.append(s)
        for s in ordered:
            self.h.extend(self.decl_struct(s))
            self.h.append("")
            self.h.append("/** Sets every field of a %s to its schema default. */" % s.name)
            self.h.append("void %s_init(%s *m);" % (s.fn.replace("__", "_"), s.ctype))
            self.h.append("")
        self.h.extend(self.decl_struct(msg.top))
        self.h.append("")
        self.h.append("/** Sets every field of a %s to its schema default. */" % msg.name)
        self.h.append("void %s_init(%s *m);" % (msg.prefix, msg.top.ctype))
        self.h.append("")
        self.h.append("/**")
        self.h.append(" * Decodes a %s of version `v` (valid: %s). Strings, bytes and records" % (
            msg.name, msg.d["validVersions"]))
        self.h.append(" * point into the reader's buffer; arrays are allocated from `a`.")
        self.h.append(" * Returns 0, or -1 for malformed input, an invalid version or arena exhaustion.")
        self.h.append(" */")
        self.h.append("int %s_decode(cm_kr_t *r, int16_t v, cm_arena_t *a, %s *m);" % (msg.prefix, msg.top.ctype))
        self.h.append("")
        self.h.append("/** Encodes `m` as version `v`; failures set w->err. */")
        self.h.append("void %s_encode(cm_kw_t *w, int16_t v, const %s *m);" % (msg.prefix, msg.top.ctype))
        self.h.append("")

        # Definitions: is_default helpers for tagged struct fields, then init, decode, encode.
        for s in ordered + [msg.top]:
            self.gen_init(s)
        for s in ordered:
            self.gen_is_default(s)
        for s in ordered:
            self.gen_decode(s)
            self.gen_encode(s)
        self.gen_decode(msg.top)
        self.gen_encode(msg.top)


def prefix_for(name):
    base = name
    for suf, short in (("Request", "req"), ("Response", "resp")):
        if name.endswith(suf) and name not in ("RequestHeader", "ResponseHeader"):
            base = name[: -len(suf)] + short.capitalize()
            break
    return "cm_" + snake(base).replace("__", "_")


HEADER_BANNER = "/* Generated by tools/kafka-gen/gen.py from Apache Kafka's message schemas. Do not edit. */"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def gen_file(schemas, outdir, stem, names):
    guard = "CM_KMSG_%s_H" % stem.upper()
    h = [HEADER_BANNER, "#ifndef " + guard, "#define " + guard, "",
         "#include \"cm_arena.h\"", "#include \"cm_kbuf.h\"", "", ]
    c = [HEADER_BANNER, "#include \"cm_kmsg_%s.h\"" % stem, "", "#include <string.h>", ""]
    for name in names:
        d = load(os.path.join(schemas, name + ".json"))
        msg = Message(d, prefix_for(name))
        e = Emitter(msg)
        e.generate()
        if d.get("apiKey") is not None:
            h.append("#define %s_API_KEY %d" % (msg.prefix.upper(), d["apiKey"]))
        h.append("#define %s_MIN_VERSION %d" % (msg.prefix.upper(), msg.valid.lo))
        h.append("#define %s_MAX_VERSION %d" % (msg.prefix.upper(), msg.valid.hi))
        h.append("")
        h.extend(e.h)
        c.extend(e.c)
    h += ["#endif", ""]
    write(os.path.join(outdir, "cm_kmsg_%s.h" % stem), "\n".join(h))
    write(os.path.join(outdir, "cm_kmsg_%s.c" % stem), "\n".join(c) + "\n")


def gen_api_table(schemas, outdir):
    rows = []
    for fn in sorted(os.listdir(schemas)):
        if not fn.endswith("Request.json"):
            continue
        d = load(os.path.join(schemas, fn))
        if d.get("type") != "request":
            continue
        v = Versions(d["validVersions"])
        fx = Versions(d.get("flexibleVersions", "none"))
        rows.append((d["apiKey"], d["name"][: -len("Request")], v.lo, v.hi,
                     -1 if fx.none() else fx.lo))
    rows.sort()
    c = [HEADER_BANNER, "#include \"cm_kproto.h\"", "",
         "const cm_kapi_info_t cm_kapi_infos[] = {"]
    for key, name, lo, hi, flex in rows:
        c.append("    { %d, \"%s\", %d, %d, %d }," % (key, name, lo, hi, flex))
    c.append("};")
    c.append("")
    c.append("const size_t cm_kapi_infos_n = sizeof(cm_kapi_infos) / sizeof(cm_kapi_infos[0]);")
    write(os.path.join(outdir, "cm_kapi.c"), "\n".join(c) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen.py SCHEMAS_DIR OUT_DIR")
    schemas, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    for api in APIS:
        gen_file(schemas, outdir, snake(api), [api + "Request", api + "Response"])
    gen_file(schemas, outdir, "header", ["RequestHeader", "ResponseHeader"])
    gen_file(schemas, outdir, "consumer_protocol",
             ["ConsumerProtocolSubscription", "ConsumerProtocolAssignment"])
    gen_api_table(schemas, outdir)
    umbrella = [HEADER_BANNER, "#ifndef CM_KMSG_H", "#define CM_KMSG_H", ""]
    for stem in [snake(a) for a in APIS] + ["header", "consumer_protocol"]:
        umbrella.append("#include \"cm_kmsg_%s.h\"" % stem)
    umbrella += ["", "#endif", ""]
    write(os.path.join(outdir, "cm_kmsg.h"), "\n".join(umbrella))
    files = [os.path.join(outdir, f) for f in os.listdir(outdir) if f.endswith((".c", ".h"))]
    subprocess.run(["clang-format", "-i", "--style=file"] + sorted(files), check=True)


if __name__ == "__main__":
    main()
