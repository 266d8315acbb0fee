/**
 * PNG export of report figures with resvg. Text needs a font file: resvg
 * loads the system fonts and /usr/share/fonts, and maps the figures'
 * families (DejaVu Sans first, then sans-serif) onto DejaVu Sans. On a
 * machine without fonts (e.g. a slim container) install one, on Debian
 * `apt-get install fonts-dejavu-core` (scripts/ci-browser.sh does).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { UserError } from '../core/errors.js';

/** Where fonts are looked for, besides the system's own list. */
export const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts'];

/** True when `dir` holds a .ttf/.otf/.ttc file somewhere below it. */
function hasFontFile(dir: string, depth = 4): boolean {
  if (depth < 0 || !existsSync(dir)) return false;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (/\.(ttf|otf|ttc)$/i.test(entry)) return true;
    if (statSync(path).isDirectory() && hasFontFile(path, depth - 1)) return true;
  }
  return false;
}

/** Throws a UserError that says how to install a font when none is found. */
export function checkFonts(dirs: readonly string[] = FONT_DIRS): void {
  if (!dirs.some((d) => hasFontFile(d))) {
    throw new UserError(`PNG export needs a font and none was found in ${dirs.join(', ')}; install one (Debian: apt-get install fonts-dejavu-core)`);
  }
}

/** Rasterises an SVG at `scale` × its size on white. */
export function svgToPng(svg: string, scale = 2): Buffer {
  if (!(scale > 0 && scale <= 8)) throw new UserError(`PNG scale must be in (0, 8], got ${scale}`);
  checkFonts();
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, fontDirs: FONT_DIRS.filter((d) => existsSync(d)), defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    logLevel: 'off',
  });
  return r.render().asPng();
}
