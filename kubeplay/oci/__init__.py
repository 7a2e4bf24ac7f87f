"""config.json from a default spec plus small composable options; bundle writing."""
