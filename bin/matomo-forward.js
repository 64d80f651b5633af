#!/usr/bin/env node
// Executable entry: all process glue lives in dist/cli/main.js.
import '../dist/cli/main.js'
