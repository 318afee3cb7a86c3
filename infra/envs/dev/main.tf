provider "google" {
  project = var.project_id
  region  = var.region
}

module "quantrun" {
  source                     = "../../modules/platform"
  project_id                 = var.project_id
  environment                = "dev"
  region                     = var.region
  data_location              = var.data_location
  api_image                  = var.api_image
  worker_image               = var.worker_image
  api_min_instances          = 0
  worker_min_instances       = 0
  worker_max_instances       = 3
  database_tier              = "db-custom-1-3840"
  database_high_availability = false
  deletion_protection        = false
  notification_channels      = var.notification_channels
}
