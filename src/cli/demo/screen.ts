/**
 * What `distribute demo` shows. On a terminal: narration lines that scroll, under them one live
 * table redrawn in place (ANSI cursor moves) with each node's own beliefs. Elsewhere (a CI log,
 * a pipe): the narration lines only, never a redraw, and the table once at the end. Colours
 * follow the CLI's printer (off with `NO_COLOR` or when stdout is not a terminal).
 *
 * @module
 */
import Table from 'cli-table3';
import type { Output } from '../output.ts';
import type { DemoChild, DemoCluster } from './cluster.ts';
import type { DemoMeasures, StepResult } from './scenario.ts';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** How often the live table is redrawn. */
const FRAME_MS = 100;

type Colors = Output['color'];

function short(node: string): string {
  const at = node.indexOf('@');
  return at < 0 ? node : node.slice(0, at);
}

/** Formats milliseconds for people. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** The live table: one row per node, as that node sees the cluster. */
export function clusterTable(cluster: DemoCluster, c: Colors, frame: number): string {
  const table = new Table({
    head: ['node', 'os pid', 'state', 'inc', 'leader', 'role', 'sees', 'pg', 'global', 'msg/s'],
    // No lines between rows: the table stays short enough to redraw without flicker.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    style: {
      ...(c.isColorSupported ? { head: ['cyan'] } : { head: [], border: [] }),
      'padding-left': 1,
      'padding-right': 1,
    },
  });
  const stateText = (x: DemoChild): string => {
    switch (x.state) {
      case 'up':
        return c.green('up');
      case 'starting':
        return c.yellow(`${SPINNER[frame % SPINNER.length]} start`);
      case 'killed':
        return c.red('killed');
      case 'left':
        return c.dim('left');
      default:
        return c.dim('exited');
    }
  };
  const seesText = (x: DemoChild): string => {
    const s = x.snapshot;
    if (s === undefined || x.state !== 'up') return '';
    return cluster.names
      .map((name) => {
        const m = s.members.find((y) => y.node === name);
        switch (m?.status) {
          case 'alive':
            return c.green('A');
          case 'suspect':
            return c.yellow('S');
          case 'dead':
            return c.red('D');
          case 'left':
            return c.dim('L');
          default:
            return c.dim('-');
        }
      })
      .join('');
  };
  for (const x of cluster.children.values()) {
    const s = x.state === 'up' ? x.snapshot : undefined;
    const erlMembers =
      s === undefined || cluster.erl === undefined ? 0 : s.pg.filter((p) => p === cluster.erl?.name).length;
    const role = s?.role ?? '';
    table.push([
      c.bold(short(x.name)),
      x.pid === undefined ? '' : String(x.pid),
      stateText(x),
      s === undefined || s.incarnation < 0 ? '' : String(s.incarnation),
      s === undefined ? '' : s.leader === null ? c.dim('none') : `${short(s.leader.node)}@${s.leader.term}`,
      role === 'leader' ? c.magenta(role) : role === 'pre-candidate' ? 'pre-cand' : role,
      seesText(x),
      s === undefined ? '' : erlMembers > 0 ? `${s.pg.length} (erl ${erlMembers})` : String(s.pg.length),
      s === undefined ? '' : s.global === null ? c.dim('-') : short(s.global),
      s === undefined ? '' : String(Math.round(x.rate)),
    ]);
  }
  const erl = cluster.erl;
  if (erl !== undefined) {
    table.push([
      c.bold(short(erl.name)),
      erl.pid === undefined ? '' : String(erl.pid),
      erl.state === 'up'
        ? c.green('up (erl)')
        : erl.state === 'starting'
          ? c.yellow('starting')
          : c.dim('exited'),
      '',
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
  }
  const legend = [
    `each row is one node's own view · leader: node@term · global: where demo_worker is`,
    `sees: ${cluster.names.map(short).join(' ')} as A alive, S suspect, D dead, L left, - unknown`,
  ].join('\n');
  return `${table.toString()}\n${c.dim(legend)}`;
}

/** The summary of the steps. */
export function summaryTable(results: readonly StepResult[], c: Colors): string {
  const width = Math.max(40, Math.min(90, (process.stdout.columns ?? 120) - 40));
  const table = new Table({
    head: ['step', 'result', 'time', 'checked / measured'],
    colWidths: [null, null, null, width] as unknown as number[],
    wordWrap: true,
    style: c.isColorSupported ? { head: ['cyan'] } : { head: [], border: [] },
  });
  for (const r of results) {
    const status =
      r.status === 'ok' ? c.green('ok') : r.status === 'failed' ? c.red('FAILED') : c.dim('skipped');
    table.push([r.name, status, r.status === 'skipped' ? '' : formatMs(r.ms), r.detail]);
  }
  return table.toString();
}

/** One line of the measured times. */
export function measuresLine(m: DemoMeasures): string {
  const parts: string[] = [];
  if (m.detectionMs !== undefined) parts.push(`failure detection ${formatMs(m.detectionMs)}`);
  if (m.reelectionMs !== undefined) parts.push(`re-election ${formatMs(m.reelectionMs)}`);
  if (m.rejoinMs !== undefined) parts.push(`rejoin ${formatMs(m.rejoinMs)}`);
  if (m.leaveMs !== undefined) parts.push(`leave seen ${formatMs(m.leaveMs)}`);
  return parts.join(' · ');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ANSI_RE = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Terminal rows `text` takes once written with a newline, on a terminal `columns` wide. */
export function rows(text: string, columns: number): number {
  let n = 0;
  for (const line of text.split('\n')) {
    const width = [...line.replace(ANSI_RE, '')].length;
    n += Math.max(1, Math.ceil(width / Math.max(1, columns)));
  }
  return n;
}

/** The demo's screen; see the module comment. */
export class DemoScreen {
  readonly #out: Output;
  readonly #cluster: DemoCluster;
  readonly #live: boolean;
  readonly #t0 = performance.now();
  #frameLines = 0;
  #frame = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #status = '';
  #lastProgress = '';

  readonly #width: () => number | undefined;

  /**
   * `live`: redraw the table in place (a terminal); otherwise narration lines only. `width`
   * gives the terminal's columns, so that the redraw also moves over lines the terminal wrapped.
   */
  constructor(out: Output, cluster: DemoCluster, live: boolean, width: () => number | undefined) {
    this.#out = out;
    this.#cluster = cluster;
    this.#live = live;
    this.#width = width;
  }

  get color(): Colors {
    return this.#out.color;
  }

  /** Starts redrawing (live mode only). */
  start(): void {
    if (!this.#live || this.#timer !== undefined) return;
    this.#out.note('\x1b[?25l'); // hide the cursor while we draw
    this.#frameLines++;
    this.#timer = setInterval(() => this.#draw(), FRAME_MS);
    this.#draw();
  }

  /** Stops redrawing and leaves the last frame on screen. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#status = '';
    this.#draw();
    this.#frameLines = 0;
    this.#out.note('\x1b[?25h');
  }

  /** A line of narration, with the time since the start. */
  narrate(text: string): void {
    const t = ((performance.now() - this.#t0) / 1000).toFixed(1).padStart(5);
    this.#line(`${this.color.dim(`[${t}s]`)} ${text}`);
  }

  /** A progress message (the start of the nodes): a spinner live, a line per change otherwise. */
  progress(text: string): void {
    if (this.#live) {
      this.#status = text;
      return;
    }
    if (text !== this.#lastProgress) {
      this.#lastProgress = text;
      this.narrate(text);
    }
  }

  /** Clears the progress message. */
  done(): void {
    this.#status = '';
  }

  /** Prints text that stays (the summary), above nothing: call after {@link stop}. */
  print(text: string): void {
    this.#line(text);
  }

  /** Prints the table once (non-live mode, at the end). */
  printTable(): void {
    if (!this.#live) this.#out.note(clusterTable(this.#cluster, this.color, 0));
  }

  #line(text: string): void {
    if (this.#live && this.#timer !== undefined) {
      this.#out.note(`${this.#erase()}${text}`);
      this.#frameLines = 0;
      this.#draw();
    } else {
      this.#out.note(text);
    }
  }

  #erase(): string {
    return this.#frameLines > 0 ? `\x1b[${this.#frameLines}A\r\x1b[0J` : '';
  }

  #draw(): void {
    this.#frame++;
    const spin = SPINNER[this.#frame % SPINNER.length] ?? '';
    const status = this.#status === '' ? '' : `${this.color.yellow(spin)} ${this.#status}\n`;
    const body = `${status}${clusterTable(this.#cluster, this.color, this.#frame)}`;
    this.#out.note(`${this.#erase()}${body}`);
    this.#frameLines = rows(body, this.#columns());
  }

  #columns(): number {
    return this.#width() ?? 80;
  }
}
