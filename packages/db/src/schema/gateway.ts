// Tables of the gateway issue (model catalog, request log).
export type GatewayTables = {};
