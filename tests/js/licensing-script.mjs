// A licensing script as an admin writes it with Microsoft's JavaScript Graph client, pointed
// at the portal: @azure/identity's ClientSecretCredential gets a token from the portal's token
// endpoint, and @microsoft/microsoft-graph-client makes the calls on the portal's /v1.0/.
//
//   node licensing-script.mjs [--portal https://licensing.example.com] [--tenant contoso.onmicrosoft.com]
//                             [--client-id ID] [--client-secret SECRET] STEP[=ARG,ARG...] ...
//
// The connection comes from the options or from GRAPH_PORTAL, GRAPH_TENANT, GRAPH_CLIENT_ID and
// GRAPH_CLIENT_SECRET. Each STEP is one of the functions in `steps` below; the script runs them in
// order and prints one JSON object, {"step": result, ...}. A call Graph refuses is printed as the
// step's result {"graphError": {...}} (the client's GraphError, with Graph's code) and the script
// goes on; any other failure ends it with exit status 1. tests/graph/test_js_client.py runs it.
import { webcrypto } from "node:crypto";
import { parseArgs } from "node:util";

import { ClientSecretCredential } from "@azure/identity";
import graphClient from "@microsoft/microsoft-graph-client";
import azureTokenCredentials from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";

// Node.js 18 (Debian 12's) has Web Crypto only in node:crypto; MSAL looks for it as a global.
globalThis.crypto ??= webcrypto;

const { BatchRequestContent, BatchResponseContent, Client, GraphError, PageIterator } = graphClient;
const { TokenCredentialAuthenticationProvider } = azureTokenCredentials;

const USER_FIELDS = ["id", "userPrincipalName", "assignedLicenses", "licenseAssignmentStates"];

function connect({ portal, tenant, clientId, clientSecret }) {
  const url = new URL(portal);
  // As for a national cloud: the authority and the Graph host are the portal's.
  const credential = new ClientSecretCredential(tenant, clientId, clientSecret, {
    authorityHost: url.origin,
    disableInstanceDiscovery: true,
  });
  const authProvider = new TokenCredentialAuthenticationProvider(credential, {
    scopes: ["https://graph.microsoft.com/.default"],
  });
  return Client.initWithMiddleware({
    authProvider,
    baseUrl: url.origin,
    defaultVersion: "v1.0",
    customHosts: new Set([url.hostname]), // the token goes to this host only
  });
}

async function skuByPartNumber(client, partNumber) {
  const skus = (await client.api("/subscribedSkus").get()).value;
  const sku = skus.find((s) => s.skuPartNumber === partNumber);
  if (!sku) throw new Error(`no subscription of ${partNumber}`);
  return sku;
}

// One function a call: (client, ...args from the command line) -> a JSON-able result.
const steps = {
  // subscribedSkus: each product's seats.
  async skus(client) {
    const skus = (await client.api("/subscribedSkus").get()).value;
    return skus.map((s) => ({
      skuId: s.skuId,
      skuPartNumber: s.skuPartNumber,
      consumedUnits: s.consumedUnits,
      prepaidUnits: s.prepaidUnits,
      servicePlans: s.servicePlans.length,
    }));
  },

  // Every user, PAGE_SIZE at a time: $top, then the client's PageIterator follows @odata.nextLink.
  async users(client, pageSize = "100") {
    const first = await client.api("/users").select(USER_FIELDS).top(Number(pageSize)).get();
    const users = [];
    const iterator = new PageIterator(client, first, (user) => {
      users.push(user);
      return true; // go on
    });
    await iterator.iterate();
    return {
      firstPage: first.value.length,
      firstNextLink: first["@odata.nextLink"] ?? null,
      users,
    };
  },

  // A license without some of its plans, then the user's licenses and licenseDetails read back.
  async assign(client, user, partNumber, ...disabledPlanNames) {
    const sku = await skuByPartNumber(client, partNumber);
    const disabledPlans = disabledPlanNames.map((name) => {
      const plan = sku.servicePlans.find((p) => p.servicePlanName === name);
      if (!plan) throw new Error(`${partNumber} has no plan ${name}`);
      return plan.servicePlanId;
    });
    const assigned = await client
      .api(`/users/${encodeURIComponent(user)}/assignLicense`)
      .post({ addLicenses: [{ skuId: sku.skuId, disabledPlans }], removeLicenses: [] });
    const path = `/users/${encodeURIComponent(user)}`;
    const { assignedLicenses } = await client.api(path).select(["assignedLicenses"]).get();
    const details = (await client.api(`${path}/licenseDetails`).get()).value;
    return {
      id: assigned.id,
      assignedLicenses,
      licenseDetails: details.map((d) => ({
        skuId: d.skuId,
        skuPartNumber: d.skuPartNumber,
        servicePlans: Object.fromEntries(
          d.servicePlans.map((p) => [p.servicePlanName, p.provisioningStatus]),
        ),
      })),
    };
  },

  // The groups whose members have license errors, and those members.
  async "license-errors"(client) {
    const groups = (
      await client.api("/groups").filter("hasMembersWithLicenseErrors eq true").get()
    ).value;
    const result = {};
    for (const group of groups) {
      const members = (await client.api(`/groups/${group.id}/membersWithLicenseErrors`).get())
        .value;
      result[group.displayName] = members.map((m) => ({
        id: m.id,
        type: m["@odata.type"],
        states: m.licenseAssignmentStates,
      }));
    }
    return result;
  },

  // One $batch of assignLicense calls, built with the client's own BatchRequestContent: each
  // user's answer by its status.
  async "batch-assign"(client, partNumber, ...users) {
    const sku = await skuByPartNumber(client, partNumber);
    // Node's Request takes only absolute URLs, and BatchRequestContent 3.0.7 keeps their path:
    // the address without the version, as Microsoft advises for this version (the batch
    // answers for /v1.0/), so that the request's url is /users/....
    const origin = client.config.baseUrl;
    const steps = users.map((user, n) => ({
      id: String(n),
      request: new Request(`${origin}/users/${encodeURIComponent(user)}/assignLicense`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ addLicenses: [{ skuId: sku.skuId, disabledPlans: [] }], removeLicenses: [] }),
      }),
    }));
    const content = await new BatchRequestContent(steps).getContent();
    const answered = new BatchResponseContent(await client.api("/$batch").post(content));
    const statuses = {};
    for (const [id, response] of answered.getResponses()) statuses[users[Number(id)]] = response.status;
    return statuses;
  },

  // A joiner and a leaver: create a cloud user, delete it (soft), find it among the deleted
  // items, restore it.
  async lifecycle(client, userPrincipalName, usageLocation = "NL") {
    const made = await client.api("/users").post({
      accountEnabled: true,
      displayName: `Script user ${userPrincipalName.split("@")[0]}`,
      mailNickname: userPrincipalName.split("@")[0],
      userPrincipalName,
      usageLocation,
      passwordProfile: { password: "Not-stored-1", forceChangePasswordNextSignIn: true },
    });
    await client.api(`/users/${made.id}`).delete();
    const deleted = (await client.api("/directory/deletedItems/microsoft.graph.user").get()).value;
    const restored = await client.api(`/directory/deletedItems/${made.id}/restore`).post({});
    return {
      id: made.id,
      deleted: deleted.filter((u) => u.id === made.id).map((u) => ({ id: u.id, deletedDateTime: u.deletedDateTime })),
      restored: { id: restored.id, userPrincipalName: restored.userPrincipalName },
    };
  },

  // The audit log's events of one activity, newest first.
  async audit(client, activity) {
    const events = (
      await client
        .api("/auditLogs/directoryAudits")
        .filter(`activityDisplayName eq '${activity.replaceAll("'", "''")}'`)
        .get()
    ).value;
    return events.map((e) => ({
      activityDisplayName: e.activityDisplayName,
      category: e.category,
      app: e.initiatedBy.app?.appId ?? null,
      targets: e.targetResources.map((t) => t.id),
    }));
  },
};

function asResult(error) {
  // Only Graph's answer is a result: a GraphError without a status (no answer: the network,
  // TLS, the token) ends the script as any other failure.
  if (!(error instanceof GraphError) || !(error.statusCode > 0)) throw error;
  let inner = null;
  try {
    inner = JSON.parse(error.body)?.innerError?.code ?? null;
  } catch {
    // not Graph's envelope: no inner code
  }
  return {
    graphError: {
      statusCode: error.statusCode,
      code: error.code,
      message: error.message,
      innerCode: inner,
      requestId: error.requestId ?? null,
    },
  };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      portal: { type: "string", default: process.env.GRAPH_PORTAL },
      tenant: { type: "string", default: process.env.GRAPH_TENANT },
      "client-id": { type: "string", default: process.env.GRAPH_CLIENT_ID },
      "client-secret": { type: "string", default: process.env.GRAPH_CLIENT_SECRET },
    },
  });
  for (const name of ["portal", "tenant", "client-id", "client-secret"]) {
    if (!values[name]) throw new Error(`--${name} (or GRAPH_${name.toUpperCase().replace("-", "_")}) is required`);
  }
  const client = connect({
    portal: values.portal,
    tenant: values.tenant,
    clientId: values["client-id"],
    clientSecret: values["client-secret"],
  });
  const results = {};
  for (const spec of positionals) {
    const [name, argList] = spec.split(/=(.*)/s);
    const step = steps[name];
    if (!step) throw new Error(`unknown step ${name}; steps: ${Object.keys(steps).join(", ")}`);
    const args = argList ? argList.split(",") : [];
    try {
      results[spec] = await step(client, ...args);
    } catch (error) {
      results[spec] = asResult(error);
    }
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
