// Package config is the appliance's configuration: one typed struct, read
// from one TOML file, validated once at start. Every error names the field
// it is about, and a configuration that does not validate never starts a
// half-working recorder.
package config
