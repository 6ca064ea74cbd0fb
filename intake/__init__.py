"""Reading intake files (CSV, XLSX, JSONL) into raw records with the canonical field names."""
