// The V8 flags every API process runs with, in one place: the image's command, `npm start`, the
// compose file and the benchmarks start Node with them, and test/deployment.test.ts holds those
// launchers to this list.
//
// A young generation of 64 MB semi-spaces (Node 20's default is 16): a GraphQL page of 100
// specimens allocates a few hundred kilobytes of short-lived objects, so with the default the
// scavenger ran every few dozen pages and copied live request state again and again. On the
// issue-16 page at 32 connections the service's CPU per page fell from 1.69 to 0.93-1.10 ms and
// its p99 from 110-124 to 66-94 ms; 128 MB made the p99 worse again (longer scavenges), and the
// scan lookup did not move either way (BENCHMARKS.md, "Young generation"). The young generation
// may take up to about 200 MB more memory; the bench's peak resident memory did not grow with it.
export const API_NODE_FLAGS = ['--max-semi-space-size=64'] as const;
