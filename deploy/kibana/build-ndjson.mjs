#!/usr/bin/env node
// Writes deploy/kibana/umbra.ndjson: the Kibana saved objects for Umbra's
// Elasticsearch data stream, in the form a Kibana 8.x export has them (one
// object a line, coreMigrationVersion/typeMigrationVersion, references by name).
//
//   node deploy/kibana/build-ndjson.mjs            rewrite umbra.ndjson
//   node deploy/kibana/build-ndjson.mjs --stdout   print it (the test compares)
//   node deploy/kibana/build-ndjson.mjs --prefix P objects for store.elasticsearch.index_prefix P
//                                                  (ids and the data view follow P)
//
// Objects (ids are stable: importing again with overwrite=true updates them):
//   index-pattern  <P>-events         data view on the data stream <P>-events, time field @timestamp
//   search         <P>-ai-events      Discover: events that matched a catalog service, newest first
//   dashboard      <P>-shadow-ai      "Umbra — shadow AI use": Lens panels (by value) + the search
//
// Versions: the migration versions of Kibana 8.9 (index-pattern 8.0.0, search
// 8.0.0, dashboard 8.9.0, core 8.8.0); Kibana 8.9 or later (9.x included)
// imports them and migrates them forward. Lens panels are stored by value in
// the dashboard, as Kibana exports them (datasource `formBased`).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CORE_MIGRATION_VERSION = '8.8.0';
const TYPE_MIGRATION_VERSION = { 'index-pattern': '8.0.0', search: '8.0.0', dashboard: '8.9.0' };
/** Every shipped event matched a catalog service unless the agent ran with --all: keep only those. */
const AI_QUERY = 'umbra.service.id : *';

function savedObject(type, id, attributes, references) {
  // key order as in a Kibana export
  return { attributes, coreMigrationVersion: CORE_MIGRATION_VERSION, id, managed: false, references, type, typeMigrationVersion: TYPE_MIGRATION_VERSION[type] };
}

// --- Lens columns (formBased datasource) --------------------------------------

const count = (label = 'Events') => ({ label, customLabel: true, dataType: 'number', operationType: 'count', isBucketed: false, scale: 'ratio', sourceField: '___records___', params: { emptyAsNull: true } });
const uniqueCount = (field, label) => ({ label, customLabel: true, dataType: 'number', operationType: 'unique_count', isBucketed: false, scale: 'ratio', sourceField: field, params: { emptyAsNull: true } });
const dateHistogram = (field = '@timestamp') => ({ label: field, dataType: 'date', operationType: 'date_histogram', sourceField: field, isBucketed: true, scale: 'interval', params: { interval: 'auto', includeEmptyRows: true, dropPartials: false } });
const terms = (field, label, size, orderColumnId, { dataType = 'string', otherBucket = true, missingBucket = false } = {}) => ({
  label, customLabel: true, dataType, operationType: 'terms', scale: 'ordinal', sourceField: field, isBucketed: true,
  params: { size, orderBy: { type: 'column', columnId: orderColumnId }, orderDirection: 'desc', otherBucket, missingBucket, parentFormat: { id: 'terms' }, include: [], exclude: [], includeIsRegex: false, excludeIsRegex: false },
});

/** One Lens panel by value: its attributes and the data view reference of its single layer. */
function lensPanel(p, dataViewId) {
  const layerId = `${p.id}-layer`;
  const refName = `indexpattern-datasource-layer-${layerId}`;
  const columns = Object.fromEntries(p.columns);
  const columnOrder = p.columns.map(([id]) => id);
  return {
    panel: {
      type: 'lens',
      gridData: { ...p.grid, i: p.id },
      panelIndex: p.id,
      embeddableConfig: {
        attributes: {
          title: '',
          visualizationType: p.visualizationType,
          type: 'lens',
          references: [{ type: 'index-pattern', id: dataViewId, name: refName }],
          state: {
            visualization: p.visualization(layerId),
            query: { query: AI_QUERY, language: 'kuery' },
            filters: [],
            datasourceStates: { formBased: { layers: { [layerId]: { columns, columnOrder, incompleteColumns: {}, sampling: 1 } } } },
            internalReferences: [],
            adHocDataViews: {},
          },
        },
        enhancements: {},
      },
      title: p.title,
    },
    reference: { id: dataViewId, name: `${p.id}:${refName}`, type: 'index-pattern' },
  };
}

const metric = (id, title, grid, column) => ({
  id, title, grid, visualizationType: 'lnsMetric',
  columns: [[`${id}-value`, column]],
  visualization: (layerId) => ({ layerId, layerType: 'data', metricAccessor: `${id}-value` }),
});

const xy = (seriesType, x, y, split) => (layerId) => ({
  legend: { isVisible: true, position: 'right' },
  valueLabels: 'hide',
  fittingFunction: 'None',
  preferredSeriesType: seriesType,
  layers: [{ layerId, layerType: 'data', seriesType, xAccessor: x, accessors: [y], ...(split ? { splitAccessor: split } : {}) }],
});

export function build(prefix = 'umbra') {
  const dataStream = `${prefix}-events`;
  const dataViewId = dataStream;
  const searchId = `${prefix}-ai-events`;
  const dashboardId = `${prefix}-shadow-ai`;

  const dataView = savedObject('index-pattern', dataViewId, {
    fieldAttrs: '{}',
    fieldFormatMap: '{}',
    fields: '[]',
    name: 'Umbra events',
    runtimeFieldMap: '{}',
    sourceFilters: '[]',
    timeFieldName: '@timestamp',
    title: dataStream,
  }, []);

  const search = savedObject('search', searchId, {
    columns: ['umbra.service.name', 'umbra.service.vendor', 'umbra.service.category', 'source.ip', 'user.name', 'destination.domain', 'event.action', 'observer.name'],
    description: 'Events that matched a service of the AI catalog, newest first.',
    grid: {},
    hideChart: false,
    isTextBasedQuery: false,
    kibanaSavedObjectMeta: {
      searchSourceJSON: JSON.stringify({ query: { query: AI_QUERY, language: 'kuery' }, filter: [], indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index' }),
    },
    sort: [['@timestamp', 'desc']],
    timeRestore: false,
    title: 'Umbra — AI events',
  }, [{ id: dataViewId, name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern' }]);

  const lens = [
    metric('sources', 'Source addresses using AI', { x: 0, y: 0, w: 16, h: 8 }, uniqueCount('source.ip', 'Source addresses')),
    metric('services', 'AI services used', { x: 16, y: 0, w: 16, h: 8 }, uniqueCount('umbra.service.id', 'AI services')),
    metric('people', 'People identified', { x: 32, y: 0, w: 16, h: 8 }, uniqueCount('user.name', 'People')),
    {
      id: 'over-time', title: 'AI events over time by service category', grid: { x: 0, y: 8, w: 48, h: 14 }, visualizationType: 'lnsXY',
      // breakdown first (as Lens orders it): the top categories over the whole range, then per interval
      columns: [['over-time-split', terms('umbra.service.category', 'Service category', 10, 'over-time-y')], ['over-time-x', dateHistogram()], ['over-time-y', count()]],
      visualization: xy('bar_stacked', 'over-time-x', 'over-time-y', 'over-time-split'),
    },
    {
      id: 'services-top', title: 'Top AI services', grid: { x: 0, y: 22, w: 24, h: 15 }, visualizationType: 'lnsXY',
      columns: [['services-top-x', terms('umbra.service.name', 'Service', 15, 'services-top-y', { otherBucket: false })], ['services-top-y', count()]],
      visualization: xy('bar_horizontal', 'services-top-x', 'services-top-y'),
    },
    {
      id: 'vendors-top', title: 'Top vendors', grid: { x: 24, y: 22, w: 24, h: 15 }, visualizationType: 'lnsPie',
      columns: [['vendors-top-group', terms('umbra.service.vendor', 'Vendor', 10, 'vendors-top-value')], ['vendors-top-value', count()]],
      visualization: (layerId) => ({
        shape: 'donut',
        layers: [{ layerId, layerType: 'data', primaryGroups: ['vendors-top-group'], metrics: ['vendors-top-value'], numberDisplay: 'percent', categoryDisplay: 'default', legendDisplay: 'default', nestedLegend: false }],
      }),
    },
    {
      id: 'sources-top', title: 'Top source addresses (with the user when known)', grid: { x: 0, y: 37, w: 24, h: 15 }, visualizationType: 'lnsDatatable',
      columns: [
        ['sources-top-ip', terms('source.ip', 'Source address', 20, 'sources-top-count', { dataType: 'ip', otherBucket: false })],
        ['sources-top-user', terms('user.name', 'User', 3, 'sources-top-count', { otherBucket: false, missingBucket: true })],
        ['sources-top-count', count()],
        ['sources-top-services', uniqueCount('umbra.service.id', 'Services')],
      ],
      visualization: (layerId) => ({ layerId, layerType: 'data', columns: ['sources-top-ip', 'sources-top-user', 'sources-top-count', 'sources-top-services'].map((columnId) => ({ columnId })) }),
    },
    {
      id: 'users-top', title: 'Top users', grid: { x: 24, y: 37, w: 24, h: 15 }, visualizationType: 'lnsDatatable',
      columns: [
        ['users-top-user', terms('user.name', 'User', 20, 'users-top-count', { otherBucket: false })],
        ['users-top-count', count()],
        ['users-top-services', uniqueCount('umbra.service.id', 'Services')],
        ['users-top-sources', uniqueCount('source.ip', 'Source addresses')],
      ],
      visualization: (layerId) => ({ layerId, layerType: 'data', columns: ['users-top-user', 'users-top-count', 'users-top-services', 'users-top-sources'].map((columnId) => ({ columnId })) }),
    },
  ].map((p) => lensPanel(p, dataViewId));

  const recent = {
    type: 'search',
    gridData: { x: 0, y: 52, w: 48, h: 20, i: 'recent' },
    panelIndex: 'recent',
    embeddableConfig: { enhancements: {} },
    title: 'Recent AI events',
    panelRefName: 'panel_recent',
  };

  const dashboard = savedObject('dashboard', dashboardId, {
    description: 'Who uses which generative-AI services, from the events of the Umbra agents.',
    kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }) },
    optionsJSON: JSON.stringify({ useMargins: true, syncColors: false, syncCursor: true, syncTooltips: false, hidePanelTitles: false }),
    panelsJSON: JSON.stringify([...lens.map((l) => l.panel), recent]),
    refreshInterval: { pause: true, value: 60000 },
    timeFrom: 'now-7d',
    timeRestore: true,
    timeTo: 'now',
    title: 'Umbra — shadow AI use',
    version: 1,
  }, [...lens.map((l) => l.reference), { id: searchId, name: 'recent:panel_recent', type: 'search' }]);

  return [dataView, search, dashboard].map((o) => JSON.stringify(o)).join('\n') + '\n';
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--prefix');
  const prefix = i >= 0 ? args[i + 1] : 'umbra';
  if (!prefix || !/^[a-z0-9][a-z0-9._-]*$/.test(prefix)) {
    process.stderr.write('build-ndjson: --prefix must be lower-case letters, digits, dots, hyphens or underscores\n');
    process.exit(2);
  }
  const text = build(prefix);
  if (args.includes('--stdout') || i >= 0) process.stdout.write(text);
  else writeFileSync(join(dirname(fileURLToPath(import.meta.url)), 'umbra.ndjson'), text);
}
