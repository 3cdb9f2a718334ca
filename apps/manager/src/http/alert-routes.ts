// Alerts (what fires now), alert rules (file, default and API ones) and
// silences. A tenant-scoped token sees only alerts about its tenant.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AlertList, AlertQuery, AlertRule, AlertRuleList, AlertRuleParams, AlertRuleSpec, ApiError, CreateSilence, Silence, SilenceList, SilenceParams } from '@metalfleet/api';
import { parseDuration, silenceActive, type Silence as DomainSilence } from '@metalfleet/domain';
import type { AlertEngine, AlertRules, ListedAlertRule } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import { actorOf, needs } from './access.ts';

export interface AlertRouteDeps {
  engine: Pick<AlertEngine, 'list' | 'evaluate' | 'notifierNames'>;
  rules: AlertRules;
  store: Pick<FleetStore, 'listSilences'>;
  now: () => Date;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;
const ruleJson = (r: ListedAlertRule) => ({ ...r, createdAt: iso(r.createdAt) });
const silenceJson = (s: DomainSilence, now: Date) => ({ ...s, startsAt: s.startsAt.toISOString(), endsAt: s.endsAt.toISOString(), active: silenceActive(s, now) });

export const alertRoutes: FastifyPluginAsyncTypebox<AlertRouteDeps> = async (app, { engine, rules, store, now }) => {
  app.get('/api/v1/alerts', {
    schema: { ...needs('fleet:read', { tenantScoped: true }), summary: 'Pending, firing and recently resolved alerts, firing first', querystring: AlertQuery, response: { 200: AlertList } },
  }, async (request) => {
    const scope = request.principal?.tenantId ?? null;
    const items = engine.list(now()).filter((a) => (scope === null || a.labels['tenant'] === scope) && (!request.query.state || a.state === request.query.state));
    return {
      items: items.map((a) => ({ ...a, activeSince: a.activeSince.toISOString(), firingSince: iso(a.firingSince), resolvedAt: iso(a.resolvedAt) })),
      notifiers: scope === null ? engine.notifierNames() : [],
    };
  });

  app.get('/api/v1/alert-rules', {
    schema: { ...needs('fleet:read'), summary: 'Alert rules in force: from the rules file (or the defaults) and made through the API', response: { 200: AlertRuleList } },
  }, async () => ({ items: (await rules.list()).map(ruleJson) }));

  app.post('/api/v1/alert-rules', {
    schema: { ...needs('alerts:write'), summary: 'Add an alert rule (kept in the store; evaluated at once)', body: AlertRuleSpec, response: { 201: AlertRule, 400: ApiError, 409: ApiError } },
  }, async (request, reply) => {
    const made = await rules.create(request.body, actorOf(request), now());
    await engine.evaluate();
    return reply.status(201).send(ruleJson(made));
  });

  app.delete('/api/v1/alert-rules/:name', {
    schema: { ...needs('alerts:write'), summary: 'Remove an alert rule made through the API (its alerts resolve)', params: AlertRuleParams, response: { 204: { type: 'null' }, 404: ApiError, 409: ApiError } },
  }, async (request, reply) => {
    await rules.remove(request.params.name);
    await engine.evaluate();
    return reply.status(204).send(null);
  });

  app.get('/api/v1/silences', {
    schema: { ...needs('fleet:read'), summary: 'Silences, with whether each is in effect now', response: { 200: SilenceList } },
  }, async () => ({ items: (await store.listSilences()).map((s) => silenceJson(s, now())) }));

  app.post('/api/v1/silences', {
    schema: { ...needs('alerts:write'), summary: 'Mute the alerts that match, from now for a duration', body: CreateSilence, response: { 201: Silence, 400: ApiError } },
  }, async (request, reply) => {
    const at = now();
    const endsAt = new Date(at.getTime() + (parseDuration(request.body.duration) ?? 0));
    const silence = await rules.createSilence({ matchers: request.body.matchers, endsAt, comment: request.body.comment }, actorOf(request), at);
    await engine.evaluate();
    return reply.status(201).send(silenceJson(silence, at));
  });

  app.delete('/api/v1/silences/:id', {
    schema: { ...needs('alerts:write'), summary: 'End a silence now', params: SilenceParams, response: { 204: { type: 'null' }, 404: ApiError } },
  }, async (request, reply) => {
    await rules.expireSilence(request.params.id, now());
    await engine.evaluate();
    return reply.status(204).send(null);
  });
};
