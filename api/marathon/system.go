package marathon

// Error is Marathon's error body.
type Error struct {
	Message     string         `json:"message"`
	Details     []ErrorDetail  `json:"details,omitempty"`
	Deployments []DeploymentID `json:"deployments,omitempty"`
}

// ErrorDetail names an invalid field by its JSON path.
type ErrorDetail struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// Info is GET /v2/info.
type Info struct {
	Name            string          `json:"name"`
	Version         string          `json:"version"`
	Buildref        string          `json:"buildref"`
	Elected         bool            `json:"elected"`
	Leader          *string         `json:"leader"`
	FrameworkID     *string         `json:"frameworkId"`
	MarathonConfig  MarathonConfig  `json:"marathon_config"`
	ZookeeperConfig ZookeeperConfig `json:"zookeeper_config"`
	HTTPConfig      HTTPConfig      `json:"http_config"`
}

// MarathonConfig is the framework's configuration as /v2/info shows it.
type MarathonConfig struct {
	Master                     string   `json:"master"`
	MesosRole                  string   `json:"mesos_role"`
	MesosUser                  string   `json:"mesos_user"`
	FrameworkName              string   `json:"framework_name"`
	Executor                   string   `json:"executor"`
	FailoverTimeout            int64    `json:"failover_timeout"`
	LocalPortMin               int      `json:"local_port_min"`
	LocalPortMax               int      `json:"local_port_max"`
	HA                         bool     `json:"ha"`
	Checkpoint                 bool     `json:"checkpoint"`
	Features                   []string `json:"features"`
	DeclineOfferDuration       int64    `json:"decline_offer_duration"`
	MaxInstancesPerOffer       int      `json:"max_instances_per_offer"`
	ReconciliationInitialDelay int64    `json:"reconciliation_initial_delay"`
	ReconciliationInterval     int64    `json:"reconciliation_interval"`
	ScaleAppsInitialDelay      int64    `json:"scale_apps_initial_delay"`
	ScaleAppsInterval          int64    `json:"scale_apps_interval"`
	TaskLaunchTimeout          int64    `json:"task_launch_timeout"`
	TaskLaunchConfirmTimeout   int64    `json:"task_launch_confirm_timeout"`
	TaskReservationTimeout     int64    `json:"task_reservation_timeout"`
	MinReviveOffersInterval    int64    `json:"min_revive_offers_interval"`
	AcceptedResourceRoles      []string `json:"accepted_resource_roles,omitempty"`
}

// ZookeeperConfig is kept for clients that read it; Agora has no ZooKeeper
// and reports its state store's limits in its place.
type ZookeeperConfig struct {
	ZK               string `json:"zk"`
	ZKTimeout        int64  `json:"zk_timeout"`
	ZKSessionTimeout int64  `json:"zk_session_timeout"`
	ZKMaxVersions    int    `json:"zk_max_versions"`
}

// HTTPConfig is the API listener's configuration.
type HTTPConfig struct {
	HTTPPort  int `json:"http_port"`
	HTTPSPort int `json:"https_port"`
}

// Leader is GET /v2/leader.
type Leader struct {
	Leader string `json:"leader"`
}

// Message is a body holding only a message.
type Message struct {
	Message string `json:"message"`
}

// Metrics is GET /metrics (Dropwizard's JSON layout).
type Metrics struct {
	Version    string                     `json:"version"`
	Counters   map[string]MetricCount     `json:"counters"`
	Gauges     map[string]MetricValue     `json:"gauges"`
	Histograms map[string]MetricHistogram `json:"histograms"`
	Meters     map[string]MetricMeter     `json:"meters"`
	Timers     map[string]MetricHistogram `json:"timers"`
}

// MetricCount is a counter.
type MetricCount struct {
	Count int64 `json:"count"`
}

// MetricValue is a gauge.
type MetricValue struct {
	Value float64 `json:"value"`
}

// MetricHistogram is a histogram or timer.
type MetricHistogram struct {
	Count  int64   `json:"count"`
	Min    float64 `json:"min"`
	Mean   float64 `json:"mean"`
	Max    float64 `json:"max"`
	P50    float64 `json:"p50"`
	P75    float64 `json:"p75"`
	P95    float64 `json:"p95"`
	P98    float64 `json:"p98"`
	P99    float64 `json:"p99"`
	P999   float64 `json:"p999"`
	Stddev float64 `json:"stddev"`
}

// MetricMeter is a rate meter.
type MetricMeter struct {
	Count    int64   `json:"count"`
	M1Rate   float64 `json:"m1_rate"`
	M5Rate   float64 `json:"m5_rate"`
	M15Rate  float64 `json:"m15_rate"`
	MeanRate float64 `json:"mean_rate"`
}
