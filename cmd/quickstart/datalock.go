package main

import "errors"

// lockFileName is the file in the data directory that a running quickstart
// holds locked (it contains its process id).
const lockFileName = "quickstart.lock"

// errDataDirInUse means another quickstart runs on the data directory.
var errDataDirInUse = errors.New("the data directory is in use by another quickstart")
