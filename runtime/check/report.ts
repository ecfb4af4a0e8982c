/**
 * The check report: findings grouped per member/pattern with every place it is used, as a
 * human-readable table or as JSON (same content, for CI and tooling).
 */
import type { SettingIssue } from '../instances/application-xml.ts';
import type { Tier } from './api-tiers.ts';
import type { Finding } from './scanner.ts';

export interface AppCheck {
  /** As given on the command line. */
  app: string;
  /** Scanned files relative to the app folder, main script first. */
  files: string[];
  findings: Finding[];
  applicationXml: SettingIssue[];
}

export interface GroupedFinding {
  kind: Finding['kind'];
  name: string;
  tier: Tier;
  note?: string;
  uses: { file: string; line: number }[];
}

export interface AppSummary {
  app: string;
  files: string[];
  findings: GroupedFinding[];
  applicationXml: { file: string; element: string; reason: string }[];
  /** Distinct members/patterns per tier. */
  summary: Record<Tier, number>;
  /** False when anything unsupported is used. */
  ok: boolean;
}

const TIER_ORDER: Record<Tier, number> = { unsupported: 0, partial: 1, supported: 2 };
const KIND_ORDER: Record<Finding['kind'], number> = { syntax: 0, member: 1, pattern: 2 };
const MAX_PLACES_SHOWN = 4;

export function summarize(check: AppCheck): AppSummary {
  const groups = new Map<string, GroupedFinding>();
  for (const f of check.findings) {
    const key = `${f.kind}\0${f.name}\0${f.tier}\0${f.note ?? ''}`;
    let group = groups.get(key);
    if (!group) {
      group = { kind: f.kind, name: f.name, tier: f.tier, ...(f.note ? { note: f.note } : {}), uses: [] };
      groups.set(key, group);
    }
    if (!group.uses.some((u) => u.file === f.file && u.line === f.line)) group.uses.push({ file: f.file, line: f.line });
  }
  const findings = [...groups.values()].sort(
    (a, b) => TIER_ORDER[a.tier] - TIER_ORDER[b.tier] || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.name.localeCompare(b.name),
  );
  const summary: Record<Tier, number> = { supported: 0, partial: 0, unsupported: 0 };
  for (const g of findings) summary[g.tier]++;
  return {
    app: check.app,
    files: check.files,
    findings,
    applicationXml: check.applicationXml.map(({ file, element, reason }) => ({ file, element, reason })),
    summary,
    ok: summary.unsupported === 0,
  };
}

export function toJson(apps: AppSummary[]): string {
  return `${JSON.stringify({ ok: apps.every((a) => a.ok), apps }, null, 2)}\n`;
}

function places(uses: GroupedFinding['uses']): string {
  const shown = uses.slice(0, MAX_PLACES_SHOWN).map((u) => `${u.file}:${u.line}`).join(', ');
  return uses.length > MAX_PLACES_SHOWN ? `${shown} (+${uses.length - MAX_PLACES_SHOWN})` : shown;
}

export function toTable(apps: AppSummary[]): string {
  const out: string[] = [];
  for (const app of apps) {
    out.push(`${app.app}: ${app.files.length === 0 ? 'no server-side script (every connection is accepted)' : app.files.join(', ')}`);
    if (app.findings.length > 0) {
      const rows = [['TIER', 'MEMBER / PATTERN', 'WHERE', 'NOTE'], ...app.findings.map((g) => [g.tier, g.name, places(g.uses), g.note ?? ''])];
      const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
      out.push('');
      for (const r of rows) out.push(`  ${r.slice(0, 3).map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}  ${r[3]}`.trimEnd());
    }
    if (app.applicationXml.length > 0) {
      out.push('', '  Application.xml / Vhost.xml settings not honoured:');
      for (const issue of app.applicationXml) out.push(`    ${issue.file}${issue.element ? ` <${issue.element}>` : ''}: ${issue.reason}`);
    }
    const s = app.summary;
    out.push('', `  ${s.supported} supported, ${s.partial} partial, ${s.unsupported} unsupported — ${app.ok ? 'OK' : 'uses unsupported features'}`, '');
  }
  return `${out.join('\n')}\n`;
}
