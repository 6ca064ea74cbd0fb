"""Domain core of hotline-pipeline: models and rules, free of Kafka, HTTP and storage."""
