#!/usr/bin/env node
// `kubectl portcullis …`: kubectl runs an executable named kubectl-portcullis found on PATH with the
// arguments after "portcullis" (its own global flags included, so --kubeconfig and --context reach us).
// The same entry point as the portcullis command; symlink this file as kubectl-portcullis.
await import('./main.ts');
