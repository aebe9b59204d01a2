#!/usr/bin/env node
// Third step of `npm run build`: writes dist/bgtask.config.schema.json, the JSON Schema of
// bgtask.config.json, from the valibot schema that validates the file (src/config/config-file.ts),
// so what editors check and what bgtask accepts cannot drift apart.
import { writeFileSync } from "node:fs";
import { toJsonSchema } from "@valibot/to-json-schema";
import { configFileSchema } from "../dist/config/config-file.js";

const schema = {
  ...toJsonSchema(configFileSchema, { target: "draft-07" }),
  title: "bgtask.config.json",
  description: "Settings of bgtask, the background task runner: flags and BGTASK_* variables win over them.",
};
writeFileSync("dist/bgtask.config.schema.json", `${JSON.stringify(schema, null, 2)}\n`);
