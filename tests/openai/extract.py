#!/usr/bin/env python3
"""Extracts the schemas of the Responses API, the request of `POST /v1/responses` (CreateResponse) and its streamed
events (ResponseStreamEvent), with every schema they refer to, from OpenAI's published OpenAPI document
(github.com/openai/openai-openapi, MIT) into responses-api.schema.json, JSON Schema (2020-12) `$defs` that
tests/responses.rs validates tandem's request bodies and its mock server's events against.

    python3 tests/openai/extract.py <openapi.json> <commit> > tests/openai/responses-api.schema.json
"""
import json
import sys


def refs(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "$ref":
                yield v.split("/")[-1]
            else:
                yield from refs(v)
    elif isinstance(o, list):
        for v in o:
            yield from refs(v)


def main():
    spec = json.load(open(sys.argv[1]))
    schemas = spec["components"]["schemas"]
    seen, stack = set(), ["CreateResponse", "ResponseStreamEvent"]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(refs(schemas[name]))
    text = json.dumps({k: schemas[k] for k in sorted(seen)}, indent=1, sort_keys=True)
    # The document's unions overlap (a user message is both an EasyInputMessage and an InputMessage); OpenAPI tools
    # pick a branch by `discriminator`, JSON Schema's `oneOf` would reject every such item. Read them as `anyOf`.
    text = text.replace('"oneOf":', '"anyOf":')
    defs = json.loads(text.replace('"#/components/schemas/', '"#/$defs/'))
    # The document's one draft 2019-09 recursion (CompoundFilter nests itself) as a plain 2020-12 reference.
    for name, schema in defs.items():
        if schema.pop("$recursiveAnchor", None) is not None:
            defs[name] = json.loads(json.dumps(schema).replace('{"$recursiveRef": "#"}', f'{{"$ref": "#/$defs/{name}"}}'))
    out = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"CreateResponse and ResponseStreamEvent from github.com/openai/openai-openapi openapi.json at "
        f"commit {sys.argv[2]} (MIT, (c) OpenAI), extracted by tests/openai/extract.py",
        "$defs": defs,
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


main()
