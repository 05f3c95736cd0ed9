import { chromium } from 'playwright-core';
const base = process.argv[2]; const pages = process.argv.slice(3);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'] });
for (const width of [375, 1280]) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width, height: 900 } });
  const page = await ctx.newPage();
  for (const p of pages) {
    await page.goto(base + p);
    await page.screenshot({ path: `/tmp/shots/${p.replace(/\//g,'_') || 'root'}-${width}.png`, fullPage: true });
  }
  await ctx.close();
}
await browser.close();
