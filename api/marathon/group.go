package marathon

// Group is a folder of apps and groups (reference §2 Groups).
type Group struct {
	ID           string   `json:"id"`
	Apps         []App    `json:"apps"`
	Pods         []any    `json:"pods"`
	Groups       []Group  `json:"groups"`
	Dependencies []string `json:"dependencies"`
	Version      string   `json:"version,omitempty"`
	EnforceRole  *bool    `json:"enforceRole,omitempty"`
}

// GroupInfo is a group as GET answers it, with apps as AppInfo.
type GroupInfo struct {
	ID           string      `json:"id"`
	Apps         []AppInfo   `json:"apps"`
	Pods         []any       `json:"pods"`
	Groups       []GroupInfo `json:"groups"`
	Dependencies []string    `json:"dependencies"`
	Version      string      `json:"version,omitempty"`
	EnforceRole  bool        `json:"enforceRole"`
}

// GroupUpdate is the body of POST/PUT/PATCH /v2/groups.
type GroupUpdate struct {
	ID           string        `json:"id,omitempty"`
	Apps         []App         `json:"apps,omitempty"`
	Groups       []GroupUpdate `json:"groups,omitempty"`
	Dependencies []string      `json:"dependencies,omitempty"`
	Version      string        `json:"version,omitempty"`
	ScaleBy      *float64      `json:"scaleBy,omitempty"`
	EnforceRole  *bool         `json:"enforceRole,omitempty"`
}
