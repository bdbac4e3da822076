// lighthouse.mjs runs Lighthouse (pinned in package.json) on a list of
// pages in one headless Chromium, one run after the other, and prints one
// JSON line per run. web/e2e TestLighthouse drives it; people can too:
//
//   echo '{"chrome":"/usr/bin/chromium","runs":[{"name":"home","url":"http://127.0.0.1:9000/","preset":"mobile"}]}' |
//     node scripts/node/lighthouse.mjs
//
// Input (stdin, JSON): chrome (path), runs: [{name, url, preset ("desktop"
// or "mobile"), headers ({name: value}, sent with every request: a session
// cookie)}], calibrate (bool, below), out (a directory for each run's full
// report, <name>.json; optional).
//
// Output (stdout, one line per run): {name, url, preset, scores:
// {performance, accessibility, "best-practices", seo} (0..100),
// metrics: {cls, lcpMs, tbtMs, fcpMs, siMs}, performanceParts: [{id,
// weight, score (0..1)}] (the metric audits the performance score is the
// weighted mean of), observed: {fcpMs, lcpMs} (unthrottled, from the
// navigation's start), wasmStartMs (when the page first asked for a .wasm,
// on the same clock; null when it did not), benchmarkIndex,
// cpuSlowdownMultiplier, failing: ["category: audit id (title)"],
// tasks: [{startMs, wallMs, cpuMs}]}.
//
// tasks are the page's main-thread tasks over 10 ms as observed
// (unthrottled), with the CPU time the thread ran in each (the trace's
// thread duration, tdur; null when the trace has none). Wall time well
// above CPU time is a thread waiting for a core (a loaded machine), not
// the page's own work: the simulated metrics (TBT, FCP, LCP) scale the
// wall time.
//
// Calibration. Lighthouse's default (simulated) throttling multiplies the
// main thread's observed task times by a CPU slowdown (4 for mobile, 1 for
// desktop) that assumes a high-end desktop host, benchmarkIndex 1500-2000
// (Lighthouse docs/throttling.md, "CPU throttling"); on a slower or loaded
// host it over-throttles, and the docs say to calibrate the multiplier to
// the host. With calibrate, a run whose host scored below 1500 is audited
// with the multiplier scaled by benchmarkIndex / 1500 (the low end of that
// range: the smallest correction). The page is gathered unthrottled either
// way (simulated throttling never slows Chromium), so only the audits see
// the difference; runs on a fast host are Lighthouse's defaults exactly.
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as chromeLauncher from 'chrome-launcher';
import { desktopConfig } from 'lighthouse';
import { navigationGather } from 'lighthouse/core/gather/navigation-runner.js';
import { Runner } from 'lighthouse/core/runner.js';
import { TraceProcessor } from 'lighthouse/core/lib/tracehouse/trace-processor.js';

const REFERENCE_BENCHMARK_INDEX = 1500;
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'];

const input = JSON.parse(readFileSync(0, 'utf8'));
const profile = mkdtempSync(join(tmpdir(), 'lighthouse-'));
const chrome = await chromeLauncher.launch({
  chromePath: input.chrome,
  userDataDir: profile,
  chromeFlags: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--disable-component-update', '--autoplay-policy=no-user-gesture-required'],
});
try {
  for (const run of input.runs) {
    const flags = {
      port: chrome.port,
      logLevel: 'error',
      output: 'json',
      onlyCategories: CATEGORIES,
      extraHeaders: run.headers || undefined,
    };
    const config = run.preset === 'desktop' ? desktopConfig : undefined;
    const { artifacts, runnerOptions } = await navigationGather(undefined, run.url, { config, flags });
    const settings = runnerOptions.resolvedConfig.settings;
    const bi = artifacts.BenchmarkIndex;
    if (input.calibrate && bi > 0 && bi < REFERENCE_BENCHMARK_INDEX && settings.throttlingMethod === 'simulate') {
      // The gathered artifacts carry the settings; Runner.audit refuses a
      // difference, so both change together.
      const throttling = { ...settings.throttling, cpuSlowdownMultiplier: settings.throttling.cpuSlowdownMultiplier * bi / REFERENCE_BENCHMARK_INDEX };
      settings.throttling = throttling;
      artifacts.settings = { ...artifacts.settings, throttling };
    }
    const result = await Runner.audit(artifacts, runnerOptions);
    const lhr = result.lhr;
    if (input.out) writeFileSync(join(input.out, `${run.name}.json`), JSON.stringify(lhr));
    const num = (id) => lhr.audits[id]?.numericValue;
    const failing = [];
    for (const cat of CATEGORIES.slice(1)) {
      for (const ref of lhr.categories[cat].auditRefs) {
        const a = lhr.audits[ref.id];
        if (ref.weight > 0 && a.score !== null && a.score < 1) failing.push(`${cat}: ${ref.id} (${a.title})`);
      }
    }
    if (lhr.runtimeError) failing.push(`runtime error: ${lhr.runtimeError.code} ${lhr.runtimeError.message}`);
    process.stdout.write(JSON.stringify({
      name: run.name,
      url: run.url,
      preset: run.preset,
      scores: Object.fromEntries(CATEGORIES.map((c) => [c, lhr.categories[c].score === null ? -1 : Math.round(lhr.categories[c].score * 100)])),
      metrics: {
        cls: num('cumulative-layout-shift'),
        lcpMs: num('largest-contentful-paint'),
        tbtMs: num('total-blocking-time'),
        fcpMs: num('first-contentful-paint'),
        siMs: num('speed-index'),
      },
      performanceParts: lhr.categories.performance.auditRefs.filter((r) => r.weight > 0)
        .map((r) => ({ id: r.id, weight: r.weight, score: lhr.audits[r.id].score ?? 0 })),
      observed: {
        fcpMs: lhr.audits.metrics?.details?.items?.[0]?.observedFirstContentfulPaint,
        lcpMs: lhr.audits.metrics?.details?.items?.[0]?.observedLargestContentfulPaint,
      },
      wasmStartMs: (lhr.audits['network-requests']?.details?.items || [])
        .filter((r) => /\.wasm(\?|$)/.test(r.url)).map((r) => r.rendererStartTime).sort((a, b) => a - b)[0] ?? null,
      tasks: mainThreadTasks(artifacts.Trace),
      benchmarkIndex: bi,
      cpuSlowdownMultiplier: settings.throttling.cpuSlowdownMultiplier,
      failing,
      warnings: lhr.runWarnings,
    }) + '\n');
  }
} finally {
  chrome.kill();
  rmSync(profile, { recursive: true, force: true });
}

// mainThreadTasks lists the renderer main thread's tasks (RunTask) over 10 ms.
function mainThreadTasks(trace) {
  try {
    const { mainThreadEvents, timeOriginEvt } = TraceProcessor.processTrace(trace);
    return mainThreadEvents.filter((e) => e.ph === 'X' && e.name === 'RunTask' && e.dur > 10e3).map((e) => ({
      startMs: (e.ts - timeOriginEvt.ts) / 1e3,
      wallMs: e.dur / 1e3,
      cpuMs: typeof e.tdur === 'number' ? e.tdur / 1e3 : null,
    }));
  } catch {
    return [];
  }
}
