package main

import "github.com/spanvault/spanvault/appliance/config"

func defaultConfig() string { return config.DefaultPath }
