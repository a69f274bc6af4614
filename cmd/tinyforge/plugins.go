package main

// The built-in source and trigger plugins register themselves here.
import _ "github.com/tinyforge/tinyforge/plugins/all"
