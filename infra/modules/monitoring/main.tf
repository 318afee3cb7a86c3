# Cloud Monitoring for one QuantRun environment (CONTRACT 6.4): log-based metrics for
# what Cloud Run does not measure (jobs finished by model and status, their run time,
# ingest runs), alert policies, an uptime check on the API's /health, and a dashboard.
#
# The log-based metrics read the JSON lines the services write: `event` is
# `job_finished` (shared_lib/quantrun/app/job_log.py) or `ingest_finished`
# (app/ingest.py). tests/infra/test_monitoring.py holds every filter here to a metric
# that exists, and tests/e2e holds the log filters to lines a real run wrote.

locals {
  prefix = "quantrun-${var.environment}"
  # the Monitoring service agent: it signs the uptime check's OIDC token (private API)
  monitoring_agent = "service-${data.google_project.this.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
  api_requests     = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.api_service_name}\""
  jobs_finished    = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.jobs_finished.name}\""
  ingest_runs      = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.ingest_runs.name}\""
  job_queues       = [var.jobs_subscription, var.long_jobs_subscription]
}

data "google_project" "this" {
  project_id = var.project_id
}

# -- log-based metrics ------------------------------------------------------------------

resource "google_logging_metric" "jobs_finished" {
  project     = var.project_id
  name        = "${local.prefix}-jobs-finished"
  description = "QuantRun jobs that ended on a worker, by model and status."
  filter      = "jsonPayload.event=\"job_finished\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "model"
      value_type  = "STRING"
      description = "The job's model."
    }
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "succeeded or failed."
    }
  }
  label_extractors = {
    model  = "EXTRACT(jsonPayload.model)"
    status = "EXTRACT(jsonPayload.status)"
  }
}

resource "google_logging_metric" "job_seconds" {
  project         = var.project_id
  name            = "${local.prefix}-job-seconds"
  description     = "Run time of QuantRun jobs on a worker (seconds), by model and status."
  filter          = "jsonPayload.event=\"job_finished\" AND jsonPayload.seconds>=0"
  value_extractor = "EXTRACT(jsonPayload.seconds)"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "s"
    labels {
      key         = "model"
      value_type  = "STRING"
      description = "The job's model."
    }
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "succeeded or failed."
    }
  }
  label_extractors = {
    model  = "EXTRACT(jsonPayload.model)"
    status = "EXTRACT(jsonPayload.status)"
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 40
      growth_factor      = 1.5
      scale              = 0.001
    }
  }
}

resource "google_logging_metric" "ingest_runs" {
  project     = var.project_id
  name        = "${local.prefix}-ingest-runs"
  description = "QuantRun ingest runs, by outcome (ok: every symbol fetched; partial; failed)."
  filter      = "jsonPayload.event=\"ingest_finished\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "ok, partial or failed."
    }
  }
  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
  }
}

# -- uptime check -----------------------------------------------------------------------

# /health, not /healthz: Cloud Run's front end keeps /healthz for itself on public URLs
resource "google_monitoring_uptime_check_config" "api_health" {
  project      = var.project_id
  display_name = "${local.prefix} API /health"
  timeout      = "10s"
  period       = "60s"
  http_check {
    path         = "/health"
    port         = 443
    use_ssl      = true
    validate_ssl = true
    accepted_response_status_codes {
      status_class = "STATUS_CLASS_2XX"
    }
    dynamic "service_agent_authentication" {
      for_each = var.api_public ? [] : ["oidc"]
      content {
        type = "OIDC_TOKEN"
      }
    }
  }
  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = var.api_host
    }
  }
}

resource "google_cloud_run_v2_service_iam_member" "uptime_invokes_api" {
  count    = var.api_public ? 0 : 1
  project  = var.project_id
  location = var.region
  name     = var.api_service_name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${local.monitoring_agent}"
}

# -- alert policies ---------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "${local.prefix}: jobs dead-lettered"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "Job messages went to quantrun-jobs-dead after every delivery failed; the worker fails those jobs with the reason. Look for the jobs' worker lines (trace) and the dead-letter topic's subscription."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "the jobs subscription dead-lettered a message"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${var.jobs_subscription}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "queue_age" {
  project               = var.project_id
  display_name          = "${local.prefix}: job queue stalled"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "The oldest unacknowledged job message is older than ${var.queue_age_seconds} s: workers are down, failing their pushes, or at their instance limit."
    mime_type = "text/markdown"
  }
  dynamic "conditions" {
    for_each = local.job_queues
    content {
      display_name = "oldest unacked message on ${conditions.value}"
      condition_threshold {
        filter          = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${conditions.value}\""
        comparison      = "COMPARISON_GT"
        threshold_value = var.queue_age_seconds
        duration        = "60s"
        aggregations {
          alignment_period   = "60s"
          per_series_aligner = "ALIGN_MAX"
        }
      }
    }
  }
}

resource "google_monitoring_alert_policy" "api_errors" {
  project               = var.project_id
  display_name          = "${local.prefix}: API 5xx"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "More than ${var.api_error_ratio * 100}% of API requests answered 5xx for 5 minutes. The API's error lines carry each request's trace."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "5xx share of API requests"
    condition_threshold {
      filter             = "${local.api_requests} AND metric.labels.response_code_class=\"5xx\""
      denominator_filter = local.api_requests
      comparison         = "COMPARISON_GT"
      threshold_value    = var.api_error_ratio
      duration           = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "job_failures" {
  project               = var.project_id
  display_name          = "${local.prefix}: jobs failing"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "More than ${var.job_failure_ratio * 100}% of finished jobs failed over 15 minutes (log-based metric ${google_logging_metric.jobs_finished.name}, by model)."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "failed share of finished jobs"
    condition_threshold {
      filter             = "${local.jobs_finished} AND metric.labels.status=\"failed\""
      denominator_filter = local.jobs_finished
      comparison         = "COMPARISON_GT"
      threshold_value    = var.job_failure_ratio
      duration           = "0s"
      aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

# A metric-absence window is at most 23.5 hours: no successful run in that long is a
# trading day missed (the scheduled ingest runs several times each weekday).
resource "google_monitoring_alert_policy" "ingest_stale" {
  project               = var.project_id
  display_name          = "${local.prefix}: no successful ingest"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "No ingest run fetched every symbol for 23.5 hours. GET /v1/market-data/status tells each provider's last call, error and rate-limit state."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "no ingest run with outcome ok"
    condition_absent {
      filter   = "${local.ingest_runs} AND metric.labels.outcome=\"ok\""
      duration = "84600s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "database" {
  project               = var.project_id
  display_name          = "${local.prefix}: Cloud SQL under pressure"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "The job database's CPU or connection count stayed high for 10 minutes: submits and claims slow down. QUANTRUN_DB_POOL_SIZE x instances must stay under max_connections."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "CPU utilisation above ${var.database_cpu_utilization}"
    condition_threshold {
      filter          = "metric.type=\"cloudsql.googleapis.com/database/cpu/utilization\" AND resource.type=\"cloudsql_database\" AND resource.labels.database_id=\"${var.database_id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.database_cpu_utilization
      duration        = "600s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MEAN"
      }
    }
  }
  conditions {
    display_name = "connections above ${var.database_max_connections}"
    condition_threshold {
      filter          = "metric.type=\"cloudsql.googleapis.com/database/postgresql/num_backends\" AND resource.type=\"cloudsql_database\" AND resource.labels.database_id=\"${var.database_id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.database_max_connections
      duration        = "600s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MEAN"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "uptime" {
  project               = var.project_id
  display_name          = "${local.prefix}: API /health failing"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "The uptime check on the API's /health failed from more than one region."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "uptime check failed"
    condition_threshold {
      filter          = "metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND resource.type=\"uptime_url\" AND metric.labels.check_id=\"${google_monitoring_uptime_check_config.api_health.uptime_check_id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "60s"
      aggregations {
        alignment_period     = "1200s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.*"]
      }
    }
  }
}

# -- dashboard --------------------------------------------------------------------------

resource "google_monitoring_dashboard" "quantrun" {
  project = var.project_id
  dashboard_json = templatefile("${path.module}/dashboard.json.tftpl", {
    title           = "QuantRun (${var.environment})"
    jobs_finished   = "logging.googleapis.com/user/${google_logging_metric.jobs_finished.name}"
    job_seconds     = "logging.googleapis.com/user/${google_logging_metric.job_seconds.name}"
    ingest_runs     = "logging.googleapis.com/user/${google_logging_metric.ingest_runs.name}"
    api_service     = var.api_service_name
    jobs_queue      = var.jobs_subscription
    long_jobs_queue = var.long_jobs_subscription
    database_id     = var.database_id
  })
}
