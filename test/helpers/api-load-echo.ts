// A background child for test/job-pacing.test.ts: sends back the first load report it receives.
process.on('message', (m: unknown) => {
  if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'biobank:api-load') {
    process.send?.(m, () => process.exit(0));
  }
});
setTimeout(() => process.exit(2), 10_000);
