# The whole QuantRun deployment in one project: called once per environment (envs/*).

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  services = toset([
    "run.googleapis.com", "pubsub.googleapis.com", "bigquery.googleapis.com",
    "sqladmin.googleapis.com", "secretmanager.googleapis.com", "storage.googleapis.com",
    "artifactregistry.googleapis.com", "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com", "eventarc.googleapis.com", "cloudscheduler.googleapis.com",
    "iamcredentials.googleapis.com", "iam.googleapis.com", "monitoring.googleapis.com",
    "logging.googleapis.com",
  ])
  prefix         = "quantrun-${var.environment}"
  image_base     = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
  api_image      = var.api_image != null ? var.api_image : "${local.image_base}/api:bootstrap"
  worker_image   = var.worker_image != null ? var.worker_image : "${local.image_base}/worker:bootstrap"
  worker_timeout = var.worker_request_timeout_seconds
  # one connectivity per environment: the private IP with Direct VPC egress on both
  # services when private_network is set, else the public IP through the connector (IAM)
  database_ip_type = var.private_network == null ? "public" : "private"
  # Cloud Run's deterministic URL, known before the service exists: the push endpoint and
  # the OIDC audience the worker checks (its own env) must be the same string.
  worker_url = "https://${local.prefix}-worker-${data.google_project.this.number}.${var.region}.run.app"
  common_env = {
    QUANTRUN_MODE               = "gcp"
    QUANTRUN_PROJECT            = var.project_id
    QUANTRUN_CLOUDSQL_INSTANCE  = module.database.connection_name
    QUANTRUN_CLOUDSQL_IP_TYPE   = local.database_ip_type
    QUANTRUN_DB_NAME            = module.database.database_name
    QUANTRUN_ARTIFACTS_BUCKET   = module.data.artifacts_bucket
    QUANTRUN_UPLOADS_BUCKET     = module.data.uploads_bucket
    QUANTRUN_BQ_DATASET         = module.data.dataset_id
    QUANTRUN_JOBS_TOPIC         = "quantrun-jobs"
    QUANTRUN_DEAD_LETTER_TOPIC  = "quantrun-jobs-dead"
    QUANTRUN_PUSH_SUBSCRIPTION  = "quantrun-jobs-push"
    QUANTRUN_LOG_LEVEL          = "INFO"
    QUANTRUN_SIGNED_URL_SECONDS = "900"
    # the bucket's lifecycle and the job rows agree: rows stop listing deleted artifacts
    QUANTRUN_ARTIFACT_RETENTION_DAYS = tostring(var.artifact_retention_days)
  }
}

resource "google_project_service" "apis" {
  for_each           = local.services
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption; images hold no secrets (they come from Secret Manager at run time).
  project       = var.project_id
  location      = var.region
  repository_id = "quantrun"
  format        = "DOCKER"
  description   = "QuantRun service images"
  depends_on    = [google_project_service.apis]
}

# -- identities: one service account per service, resource-level roles only -------------

module "api_sa" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = "${local.prefix}-api"
  display_name = "QuantRun API (${var.environment})"
  description  = "Runtime identity of the API service."
}

module "worker_sa" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = "${local.prefix}-worker"
  display_name = "QuantRun worker (${var.environment})"
  description  = "Runtime identity of the worker service."
}

module "ingest_sa" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = "${local.prefix}-ingest"
  display_name = "QuantRun ingestion (${var.environment})"
  description  = "Runtime identity of the ingestion functions."
}

module "push_sa" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = "${local.prefix}-push"
  display_name = "QuantRun Pub/Sub push (${var.environment})"
  description  = "OIDC identity of the job push subscriptions; run.invoker on the worker only."
}

module "trigger_sa" {
  source        = "../service_account"
  project_id    = var.project_id
  account_id    = "${local.prefix}-trigger"
  display_name  = "QuantRun event triggers (${var.environment})"
  description   = "Identity Eventarc and Cloud Scheduler use to invoke functions and the worker."
  project_roles = ["roles/eventarc.eventReceiver"]
}

# The API signs artifact URLs through IAM signBlob as itself.
resource "google_service_account_iam_member" "api_signs_urls" {
  service_account_id = module.api_sa.id
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = module.api_sa.member
}

# -- data, database, secrets ------------------------------------------------------------

module "data" {
  source                  = "../data"
  project_id              = var.project_id
  location                = var.data_location
  artifacts_bucket_name   = "${var.project_id}-${local.prefix}-artifacts"
  artifact_retention_days = var.artifact_retention_days
  uploads_bucket_name     = "${var.project_id}-${local.prefix}-uploads"
  dataset_readers         = [module.api_sa.member, module.worker_sa.member]
  dataset_writers         = [module.ingest_sa.member]
  # the API creates one kind of object: a job's manifest.json, copied from the job's
  # row on its first download (create-only, as the worker's writes)
  artifact_writers  = [module.worker_sa.member, module.api_sa.member]
  artifact_readers  = []
  upload_processors = [module.ingest_sa.member]
  depends_on        = [google_project_service.apis]
}

module "database" {
  source              = "../database"
  project_id          = var.project_id
  region              = var.region
  instance_name       = local.prefix
  tier                = var.database_tier
  high_availability   = var.database_high_availability
  private_network     = var.private_network
  deletion_protection = var.deletion_protection
  # the ingest functions write BigQuery only: no database user for them
  iam_service_accounts = [module.api_sa.email, module.worker_sa.email]
  depends_on           = [google_project_service.apis]
}

resource "google_secret_manager_secret" "secrets" {
  for_each  = toset(var.secret_names)
  project   = var.project_id
  secret_id = each.value
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "ingest_reads_provider_keys" {
  for_each  = toset([for s in var.secret_names : s if startswith(s, "provider-")])
  project   = var.project_id
  secret_id = google_secret_manager_secret.secrets[each.value].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = module.ingest_sa.member
}

# -- services ---------------------------------------------------------------------------

# The worker takes only internal traffic. Cloud Run counts as internal the requests of
# Pub/Sub (the push subscription) and Cloud Scheduler (the reclaim sweep) in the same
# project: https://cloud.google.com/run/docs/securing/ingress#settings ("Internal ...
# Cloud Scheduler, Cloud Tasks, Eventarc, Pub/Sub, Synthetic monitors, Workflows"), and
# both still present the push identity's OIDC token, which the worker verifies.
module "worker" {
  source                  = "../cloud_run_service"
  project_id              = var.project_id
  region                  = var.region
  name                    = "${local.prefix}-worker"
  image                   = local.worker_image
  service_account_email   = module.worker_sa.email
  ingress                 = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  min_instances           = var.worker_min_instances
  max_instances           = var.worker_max_instances
  concurrency             = 2
  cpu                     = "2"
  memory                  = "4Gi"
  cpu_idle                = false
  request_timeout_seconds = local.worker_timeout
  deletion_protection     = var.deletion_protection
  vpc_network             = var.private_network
  vpc_subnetwork          = var.private_subnetwork
  env = merge(local.common_env, {
    QUANTRUN_DB_USER              = trimsuffix(module.worker_sa.email, ".gserviceaccount.com")
    QUANTRUN_VERIFY_PUSH_TOKEN    = "true"
    QUANTRUN_PUSH_SERVICE_ACCOUNT = module.push_sa.email
    QUANTRUN_PUSH_AUDIENCE        = local.worker_url
    QUANTRUN_LEASE_SECONDS        = "60"
    QUANTRUN_WORKER_THREADS       = "2"
  })
}

# behind the edge load balancer (when there is one) the API takes traffic from it only
module "api" {
  source                = "../cloud_run_service"
  project_id            = var.project_id
  region                = var.region
  name                  = "${local.prefix}-api"
  image                 = local.api_image
  service_account_email = module.api_sa.email
  ingress               = var.edge_domain == null ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
  min_instances         = var.api_min_instances
  max_instances         = var.api_max_instances
  concurrency           = 40
  cpu                   = "1"
  memory                = "1Gi"
  cpu_idle              = false
  # event streams (GET /v1/jobs/{id}/events) stay open up to QUANTRUN_EVENTS_MAX_SECONDS
  request_timeout_seconds = 3600
  health_path             = "/readyz"
  deletion_protection     = var.deletion_protection
  vpc_network             = var.private_network
  vpc_subnetwork          = var.private_subnetwork
  invoker_members         = var.api_public ? ["allUsers"] : var.api_invokers
  env = merge(local.common_env, {
    QUANTRUN_DB_USER                 = trimsuffix(module.api_sa.email, ".gserviceaccount.com")
    QUANTRUN_SIGNING_SERVICE_ACCOUNT = module.api_sa.email
  })
  secret_env = {
    for name in var.secret_names :
    "QUANTRUN_SECRET_${upper(replace(name, "-", "_"))}" => { secret = google_secret_manager_secret.secrets[name].secret_id, version = "latest" }
    if !startswith(name, "provider-")
  }
}

resource "google_secret_manager_secret_iam_member" "api_reads_app_secrets" {
  for_each  = toset([for s in var.secret_names : s if !startswith(s, "provider-")])
  project   = var.project_id
  secret_id = google_secret_manager_secret.secrets[each.value].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = module.api_sa.member
}

module "job_queue" {
  source                     = "../job_queue"
  project_id                 = var.project_id
  region                     = var.region
  worker_url                 = local.worker_url
  worker_service_name        = module.worker.name
  push_service_account_email = module.push_sa.email
  push_service_account_id    = module.push_sa.id
  ack_deadline_seconds       = local.worker_timeout
  max_delivery_attempts      = 5
  publisher_members          = [module.api_sa.member, module.worker_sa.member]
  # the push worker hands long jobs over; the long-jobs worker (same identity) pulls them
  long_jobs_publisher_members  = [module.worker_sa.member]
  long_jobs_subscriber_members = [module.worker_sa.member]
  depends_on                   = [google_project_service.apis]
}

# Jobs too long for a push request run here: a Cloud Run worker pool (no HTTP endpoint,
# no request deadline) pulling the long-jobs subscription with `quantrun worker --pull`,
# as the worker's identity. Terraform sets its image (the deploy step rolls the services).
resource "google_cloud_run_v2_worker_pool" "long_jobs" {
  project             = var.project_id
  name                = "${local.prefix}-long-worker"
  location            = var.region
  deletion_protection = var.deletion_protection
  scaling {
    manual_instance_count = var.long_worker_instances
  }
  template {
    service_account = module.worker_sa.email
    dynamic "vpc_access" {
      for_each = var.private_subnetwork == null ? [] : [var.private_subnetwork]
      content {
        network_interfaces {
          network    = var.private_network
          subnetwork = vpc_access.value
        }
        egress = "PRIVATE_RANGES_ONLY"
      }
    }
    containers {
      image   = local.worker_image
      command = ["quantrun"]
      args    = ["worker", "--pull"]
      resources {
        limits = {
          cpu    = "2"
          memory = "4Gi"
        }
      }
      dynamic "env" {
        for_each = merge(local.common_env, {
          QUANTRUN_DB_USER        = trimsuffix(module.worker_sa.email, ".gserviceaccount.com")
          QUANTRUN_LEASE_SECONDS  = "60"
          QUANTRUN_WORKER_THREADS = "2"
        })
        content {
          name  = env.key
          value = env.value
        }
      }
    }
  }
  depends_on = [google_project_service.apis]
}

# The worker republishes jobs whose lease expired; Cloud Scheduler runs the sweep with the
# push identity (the worker accepts exactly one token identity).
resource "google_cloud_scheduler_job" "reclaim" {
  project   = var.project_id
  region    = var.region
  name      = "${local.prefix}-reclaim"
  schedule  = "* * * * *"
  time_zone = "Etc/UTC"
  http_target {
    http_method = "POST"
    uri         = "${local.worker_url}/tasks/reclaim"
    oidc_token {
      service_account_email = module.push_sa.email
      audience              = local.worker_url
    }
  }
  depends_on = [google_project_service.apis]
}

# The strategies' schedules (CONTRACT 5.5): every minute the worker submits the fire
# times due; each fire time makes one job however often it is called.
resource "google_cloud_scheduler_job" "schedules" {
  project   = var.project_id
  region    = var.region
  name      = "${local.prefix}-schedules"
  schedule  = "* * * * *"
  time_zone = "Etc/UTC"
  http_target {
    http_method = "POST"
    uri         = "${local.worker_url}/tasks/schedules"
    oidc_token {
      service_account_email = module.push_sa.email
      audience              = local.worker_url
    }
  }
  depends_on = [google_project_service.apis]
}

# Paper portfolios (CONTRACT 6.1): every 10 minutes the worker steps each portfolio over
# the days ingested since its last step (each day booked once however often it is
# called) and makes the stale-data alerts.
resource "google_cloud_scheduler_job" "portfolios" {
  project   = var.project_id
  region    = var.region
  name      = "${local.prefix}-portfolios"
  schedule  = "*/10 * * * *"
  time_zone = "Etc/UTC"
  http_target {
    http_method = "POST"
    uri         = "${local.worker_url}/tasks/portfolios"
    oidc_token {
      service_account_email = module.push_sa.email
      audience              = local.worker_url
    }
  }
  depends_on = [google_project_service.apis]
}

# Data-access audit logs for the buckets (who read or wrote which artifact or upload):
# off by default in Google Cloud, so turned on here rather than assumed.
resource "google_project_iam_audit_config" "storage_data_access" {
  project = var.project_id
  service = "storage.googleapis.com"
  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}

# -- monitoring (CONTRACT 6.4): alert policies, uptime check, dashboard ---------------

module "monitoring" {
  source                 = "../monitoring"
  project_id             = var.project_id
  environment            = var.environment
  region                 = var.region
  api_service_name       = module.api.name
  api_host               = trimprefix(module.api.uri, "https://")
  api_public             = var.api_public
  jobs_subscription      = module.job_queue.subscription_name
  long_jobs_subscription = module.job_queue.long_jobs_subscription_name
  database_id            = "${var.project_id}:${module.database.instance_name}"
  notification_channels  = var.notification_channels
  depends_on             = [google_project_service.apis]
}

# -- ingestion --------------------------------------------------------------------------

resource "google_pubsub_topic" "ingest" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; messages name symbols and dates only.
  project = var.project_id
  name    = "quantrun-ingest"
}

# The API hands an admin's backfill (POST /v1/instruments/{symbol}/backfill) to the
# ingest function as a message on its topic.
resource "google_pubsub_topic_iam_member" "api_publishes_backfills" {
  project = var.project_id
  topic   = google_pubsub_topic.ingest.name
  role    = "roles/pubsub.publisher"
  member  = module.api_sa.member
}

resource "google_cloud_scheduler_job" "ingest" {
  project   = var.project_id
  region    = var.region
  name      = "${local.prefix}-ingest"
  schedule  = var.ingest_schedule
  time_zone = "America/New_York"
  pubsub_target {
    topic_name = google_pubsub_topic.ingest.id
    # the active instruments (CONTRACT 6.2); the variable only seeds them
    data = base64encode(jsonencode({ active = true, seed = var.ingest_symbols, since_last = true }))
  }
  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "function_source" {
  #checkov:skip=CKV_GCP_62:Holds build inputs only; access is audited by Cloud Audit Logs.
  #checkov:skip=CKV_GCP_78:Objects are immutable zips named by content hash; versioning adds nothing.
  project                     = var.project_id
  name                        = "${var.project_id}-${local.prefix}-functions"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
}

module "ingest_prices" {
  source                        = "../function"
  project_id                    = var.project_id
  region                        = var.region
  name                          = "${local.prefix}-ingest-prices"
  description                   = "Fetches prices from providers and MERGEs them into BigQuery."
  entry_point                   = "ingest_prices"
  source_bucket                 = google_storage_bucket.function_source.name
  source_object                 = var.ingest_prices_source_object
  service_account_email         = module.ingest_sa.email
  trigger_service_account_email = module.trigger_sa.email
  event_type                    = "google.cloud.pubsub.topic.v1.messagePublished"
  pubsub_topic                  = google_pubsub_topic.ingest.id
  env                           = { QUANTRUN_PROJECT = var.project_id, QUANTRUN_BQ_DATASET = module.data.dataset_id }
  secret_env = {
    for name in var.secret_names :
    "QUANTRUN_SECRET_${upper(replace(name, "-", "_"))}" => { secret = google_secret_manager_secret.secrets[name].secret_id, version = "latest" }
    if startswith(name, "provider-")
  }
}

module "ingest_upload" {
  source                        = "../function"
  project_id                    = var.project_id
  region                        = var.region
  name                          = "${local.prefix}-ingest-upload"
  description                   = "Validates price files dropped under uploads/ and MERGEs them into BigQuery."
  entry_point                   = "ingest_upload"
  source_bucket                 = google_storage_bucket.function_source.name
  source_object                 = var.ingest_upload_source_object
  service_account_email         = module.ingest_sa.email
  trigger_service_account_email = module.trigger_sa.email
  event_type                    = "google.cloud.storage.object.v1.finalized"
  event_filters                 = { bucket = module.data.uploads_bucket }
  env                           = { QUANTRUN_PROJECT = var.project_id, QUANTRUN_BQ_DATASET = module.data.dataset_id }
}

# -- edge (off by default): an external HTTPS load balancer whose Cloud Armor rule limits
# the request rate per client IP across every API instance -------------------------------

module "edge" {
  count               = var.edge_domain == null ? 0 : 1
  source              = "../edge"
  project_id          = var.project_id
  region              = var.region
  name                = "${local.prefix}-edge"
  api_service_name    = module.api.name
  domain              = var.edge_domain
  requests_per_minute = var.edge_requests_per_minute
}

# private_network and private_subnetwork go together: a private-IP database the services
# cannot reach would fail every request
resource "terraform_data" "database_connectivity" {
  lifecycle {
    precondition {
      condition     = (var.private_network == null) == (var.private_subnetwork == null)
      error_message = "Set private_network and private_subnetwork together (or neither, for the public IP through the connector)."
    }
  }
}
