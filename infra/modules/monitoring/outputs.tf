output "alert_policy_ids" {
  description = "The alert policies by purpose."
  value = {
    dead_letters = google_monitoring_alert_policy.dead_letters.id
    queue_age    = google_monitoring_alert_policy.queue_age.id
    api_errors   = google_monitoring_alert_policy.api_errors.id
    job_failures = google_monitoring_alert_policy.job_failures.id
    ingest_stale = google_monitoring_alert_policy.ingest_stale.id
    database     = google_monitoring_alert_policy.database.id
    uptime       = google_monitoring_alert_policy.uptime.id
  }
}

output "uptime_check_id" {
  description = "The uptime check on the API's /health."
  value       = google_monitoring_uptime_check_config.api_health.uptime_check_id
}

output "dashboard_id" {
  description = "The QuantRun dashboard."
  value       = google_monitoring_dashboard.quantrun.id
}

output "log_metric_types" {
  description = "Metric types of the log-based metrics."
  value = {
    jobs_finished = "logging.googleapis.com/user/${google_logging_metric.jobs_finished.name}"
    job_seconds   = "logging.googleapis.com/user/${google_logging_metric.job_seconds.name}"
    ingest_runs   = "logging.googleapis.com/user/${google_logging_metric.ingest_runs.name}"
  }
}
