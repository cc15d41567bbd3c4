/**
 * Membership settings: every default in one place with the reason for it, and the LAN, WAN
 * and local profiles, which start from the LAN defaults and override only what differs.
 * Units end the name. The defaults follow HashiCorp memberlist's, which are tuned by years of
 * Consul and Nomad clusters; the reasons are ours.
 */

/** Tunables of the SWIM core; see {@link defaultLanConfig} for each default and why. */
export interface MembershipConfig {
  /** Length of a protocol period: each member probes one other member per period. */
  readonly probeIntervalMs: number;
  /** How long to wait for a direct ack before asking `indirectChecks` helpers (before awareness scaling). */
  readonly probeTimeoutMs: number;
  /** k, the number of helpers asked to ping a target that missed its direct ack. */
  readonly indirectChecks: number;
  /** An update is piggybacked at most `retransmitMult * ceil(log10(N + 1))` times by each member. */
  readonly retransmitMult: number;
  /** A suspect is declared dead after `suspicionMult * max(1, log10(N)) * probeIntervalMs` (the minimum). */
  readonly suspicionMult: number;
  /** Lifeguard: a fresh suspicion lasts this multiple of the minimum, shrinking as confirmations arrive (1 = off). */
  readonly suspicionMaxTimeoutMult: number;
  /**
   * Lifeguard: the local health score scales probe timeouts, and the period of a probe that goes
   * unanswered, up to this multiple (1 = off). An answered probe keeps the base period.
   */
  readonly awarenessMaxMultiplier: number;
  /**
   * Lifeguard: the suspect is told of its suspicion so that it refutes at once: a member whose
   * own probe fails pings the suspect with the suspicion attached (its ack brings the refutation
   * back), and every probe of a suspect carries the suspicion.
   */
  readonly buddySystem: boolean;
  /** Lifeguard: ping-req helpers answer "nack" when the target is silent, so a prober can tell its own slowness. */
  readonly nacks: boolean;
  /** How often pending updates are pushed to `gossipNodes` random members, besides piggybacking (0 = piggyback only). */
  readonly gossipIntervalMs: number;
  /** Fan-out of each gossip round, and of the announcement of a leave. */
  readonly gossipNodes: number;
  /**
   * One probe period before its own suspicion timer declares a member dead, ping the suspect
   * once with the suspicion attached: a live suspect answers with its refutation (which this
   * member may have missed: gossip reaches everyone only with high probability); for that last
   * period every packet sent also carries `alive` at the suspected incarnation, which members
   * holding a newer refutation answer (with staleCorrection). Costs one ping per member per
   * death declared by its own timer, at most one per probe period. Not in memberlist or the
   * Lifeguard paper; off in {@link withoutLifeguard}.
   */
  readonly lastChanceProbe: boolean;
  /**
   * Stale-news correction: a member that receives news (alive, suspect or dead) older than the
   * refutation it holds sends that refutation straight back to the sender, which missed it: in
   * its ack when the news came in a ping, otherwise in a packet of its own, at most one per
   * probe period. Not in memberlist or the Lifeguard paper; off in {@link withoutLifeguard}.
   */
  readonly staleCorrection: boolean;
  /** Full state exchange with one random member every this often (scaled up for N > 32), to heal partitions. */
  readonly pushPullIntervalMs: number;
  /** A dead or left member is forgotten (reaped) this long after it was declared. */
  readonly reapAfterMs: number;
  /** After reaping, the member's last incarnation is kept this long so stale gossip cannot resurrect it. */
  readonly tombstoneMs: number;
  /** A join retries its seeds this often until one answers. */
  readonly joinRetryMs: number;
  /** A join gives up after this many rounds over its seeds. */
  readonly joinAttempts: number;
  /** Largest packet built; piggybacked gossip fills what the message leaves free. */
  readonly maxPacketBytes: number;
  /** Members (including tombstones) kept at most; remote input beyond it is ignored. */
  readonly maxMembers: number;
  /** Ping-req requests being served at once at most; more are ignored (remote input is untrusted). */
  readonly maxPendingIndirect: number;
}

/**
 * Defaults for a LAN (sub-millisecond to few-millisecond RTT, hundreds of members).
 * Each line says why.
 */
export const defaultLanConfig: MembershipConfig = Object.freeze({
  probeIntervalMs: 1000, // one probe per member per second: expected first detection ~1.6 s at 2 msgs/member/s
  probeTimeoutMs: 500, // far above a LAN RTT, and leaves half the period for the indirect probe
  indirectChecks: 3, // three independent paths make a lost packet or a bad link nearly never look like a failure
  retransmitMult: 4, // 4 * log10(N+1) transmissions reach every member with high probability
  suspicionMult: 4, // suspect a member for 4 * log10(N) periods: time for the suspicion to reach it and its refutation to spread
  suspicionMaxTimeoutMult: 6, // a lone accuser (maybe itself slow) waits 6x longer; independent confirmations shrink it
  awarenessMaxMultiplier: 8, // a struggling member stretches its probe timeouts up to 8x before it accuses others
  buddySystem: true, // the suspect hears of its suspicion from its accuser at once, not by chance gossip
  nacks: true, // missing nacks reveal that the prober, not the target, is slow
  gossipIntervalMs: 0, // piggyback only, as SWIM: constant messages per member whatever the churn (memberlist uses 200)
  gossipNodes: 3, // peers told at once of our leave, and per gossip round when gossip rounds are on
  lastChanceProbe: true, // ping a suspect once before our timer declares it dead: a refutation we missed comes back in the ack
  staleCorrection: true, // answer stale news with the refutation the sender missed: in the ack, or one packet per period at most
  pushPullIntervalMs: 30_000, // a full sync every 30 periods repairs what gossip missed (partitions, overflows)
  reapAfterMs: 30_000, // keep a dead member long enough for its death to reach every member, then forget it
  tombstoneMs: 3_600_000, // remember a reaped member's incarnation for an hour so old gossip cannot bring it back
  joinRetryMs: 1000, // seeds that missed the first push-pull are asked again each period
  joinAttempts: 10, // then the join fails loudly instead of waiting forever
  maxPacketBytes: 1400, // fits an Ethernet MTU without IP fragmentation
  maxMembers: 10_000, // caps memory against a flood of invented members
  maxPendingIndirect: 512, // caps the ping-req work a peer can make us do
});

/** Defaults for a WAN: long RTTs and more loss, so slower and more patient. */
export const defaultWanConfig: MembershipConfig = Object.freeze({
  ...defaultLanConfig,
  probeIntervalMs: 5000, // WAN RTTs of 100-300 ms need a longer period to keep traffic modest
  probeTimeoutMs: 3000, // tolerates RTT spikes across continents
  suspicionMult: 6, // refutations take longer to travel
  pushPullIntervalMs: 60_000, // full syncs cost more over a WAN
  reapAfterMs: 60_000, // deaths take longer to reach everyone
});

/** Defaults for members on one host (tests, development): fast and small. */
export const defaultLocalConfig: MembershipConfig = Object.freeze({
  ...defaultLanConfig,
  probeTimeoutMs: 200, // loopback RTT is microseconds
  indirectChecks: 1, // loopback does not lose packets; one helper suffices
  // retransmitMult stays the LAN's 4: with 3 members, 2 piggybacks of an update can both go to the
  // member it is about, and the third then learns it only at the next push-pull.
  suspicionMult: 3, // refutations arrive quickly on one host
  pushPullIntervalMs: 15_000, // cheap on loopback
  reapAfterMs: 15_000, // forget dead members sooner
});

/**
 * The same profile as plain SWIM with suspicion, as memberlist runs it without Lifeguard: a
 * fixed probe timeout and interval (no local health multiplier), a fixed suspicion timeout of
 * `suspicionMult * max(1, log10(N))` periods that confirmations do not shorten, no nacks, a
 * suspect not told of its suspicion in the probe (no buddy system), and neither of our own
 * refinements (last-chance probe, stale-news correction). The baseline of the benchmarks.
 */
export function withoutLifeguard(config: MembershipConfig): MembershipConfig {
  return Object.freeze({
    ...config,
    suspicionMaxTimeoutMult: 1,
    awarenessMaxMultiplier: 1,
    buddySystem: false,
    nacks: false,
    lastChanceProbe: false,
    staleCorrection: false,
  });
}

/** Error thrown for a configuration that cannot work. */
export class MembershipConfigError extends Error {
  readonly code: 'BAD_MEMBERSHIP_CONFIG' = 'BAD_MEMBERSHIP_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'MembershipConfigError';
  }
}

/** Checks a configuration, throwing {@link MembershipConfigError} on the first bad field. */
export function validateConfig(c: MembershipConfig): void {
  const positive: Array<keyof MembershipConfig> = [
    'probeIntervalMs',
    'probeTimeoutMs',
    'retransmitMult',
    'suspicionMult',
    'suspicionMaxTimeoutMult',
    'awarenessMaxMultiplier',
    'pushPullIntervalMs',
    'joinRetryMs',
    'joinAttempts',
    'maxPacketBytes',
    'maxMembers',
  ];
  for (const k of positive) {
    const v = c[k];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
      throw new MembershipConfigError(`${k} must be a positive number, got ${String(v)}`);
    }
  }
  const nonNegative: Array<keyof MembershipConfig> = [
    'indirectChecks',
    'gossipIntervalMs',
    'gossipNodes',
    'reapAfterMs',
    'tombstoneMs',
    'maxPendingIndirect',
  ];
  for (const k of nonNegative) {
    const v = c[k];
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) {
      throw new MembershipConfigError(`${k} must be a non-negative number, got ${String(v)}`);
    }
  }
  if (c.probeTimeoutMs >= c.probeIntervalMs) {
    throw new MembershipConfigError(
      `probeTimeoutMs (${c.probeTimeoutMs}) must be below probeIntervalMs (${c.probeIntervalMs}) to leave time for indirect probes`,
    );
  }
  if (c.maxPacketBytes < 256)
    throw new MembershipConfigError(`maxPacketBytes must be at least 256, got ${c.maxPacketBytes}`);
}
