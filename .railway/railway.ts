// Railway Infrastructure as Code (`railway config plan|apply`), the successor of railway.json,
// which Railway stops reading on 2026-12-01. A service is managed by one of the two: once this
// file manages Signalbox, delete railway.json. The Dockerfile at the root is used for builds.
import { defineRailway, project, service, volume, preserve } from "railway/iac";

export default defineRailway(() => {
  // SQLite lives on this volume; set DATABASE_URL to a Postgres URL to run several replicas.
  const data = volume("signalbox-data", { sizeMB: 1024 });

  const signalbox = service("signalbox", {
    start: "signalbox serve",
    healthcheck: "/health/readiness",
    healthcheckTimeout: 120,
    volumeMounts: { "/data": data },
    env: {
      DATABASE_URL: "sqlite:///data/signalbox.db",
      LOG_FORMAT: "json",
      SIGNALBOX_ADMIN_TOKEN: preserve(),
      RAILWAY_API_TOKEN: preserve(),
    },
  });

  return project("signalbox", { resources: [signalbox, data] });
});
