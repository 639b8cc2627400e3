package marathon

// QueueResponse is GET /v2/queue.
type QueueResponse struct {
	Queue []QueueItem `json:"queue"`
}

// QueueItem is an app waiting for instances to be launched.
type QueueItem struct {
	App                    *App                   `json:"app,omitempty"`
	Count                  int                    `json:"count"`
	Role                   string                 `json:"role"`
	Delay                  QueueDelay             `json:"delay"`
	Since                  string                 `json:"since"`
	ProcessedOffersSummary ProcessedOffersSummary `json:"processedOffersSummary"`
	LastUnusedOffers       []UnusedOffer          `json:"lastUnusedOffers,omitempty"`
}

// QueueDelay is the app's backoff.
type QueueDelay struct {
	TimeLeftSeconds int64 `json:"timeLeftSeconds"`
	Overdue         bool  `json:"overdue"`
}

// ProcessedOffersSummary counts the offers the app's launcher looked at.
type ProcessedOffersSummary struct {
	ProcessedOffersCount       int             `json:"processedOffersCount"`
	UnusedOffersCount          int             `json:"unusedOffersCount"`
	LastUnusedOfferAt          string          `json:"lastUnusedOfferAt,omitempty"`
	LastUsedOfferAt            string          `json:"lastUsedOfferAt,omitempty"`
	RejectSummaryLastOffers    []RejectSummary `json:"rejectSummaryLastOffers"`
	RejectSummaryLaunchAttempt []RejectSummary `json:"rejectSummaryLaunchAttempt"`
}

// RejectSummary counts offers refused for one reason.
type RejectSummary struct {
	Reason    string `json:"reason"`
	Declined  int    `json:"declined"`
	Processed int    `json:"processed"`
}

// UnusedOffer is an offer the app could not use, and why.
type UnusedOffer struct {
	Offer     OfferView `json:"offer"`
	Reason    []string  `json:"reason"`
	Timestamp string    `json:"timestamp"`
}

// OfferView is an offer as the queue shows it.
type OfferView struct {
	ID         string         `json:"id"`
	AgentID    string         `json:"agentId"`
	Hostname   string         `json:"hostname"`
	Resources  []ResourceView `json:"resources"`
	Attributes []any          `json:"attributes"`
}

// ResourceView is one resource of an offer.
type ResourceView struct {
	Name   string      `json:"name"`
	Role   string      `json:"role"`
	Scalar float64     `json:"scalar,omitempty"`
	Ranges []RangeView `json:"ranges,omitempty"`
	Set    []string    `json:"set,omitempty"`
}

// RangeView is a range of ports.
type RangeView struct {
	Begin int64 `json:"begin"`
	End   int64 `json:"end"`
}

// Offer refusal reasons.
const (
	ReasonUnfulfilledRole       = "UnfulfilledRole"
	ReasonUnfulfilledConstraint = "UnfulfilledConstraint"
	ReasonAgentMaintenance      = "AgentMaintenance"
	ReasonInsufficientCpus      = "InsufficientCpus"
	ReasonInsufficientMemory    = "InsufficientMemory"
	ReasonInsufficientDisk      = "InsufficientDisk"
	ReasonInsufficientGpus      = "InsufficientGpus"
	ReasonInsufficientPorts     = "InsufficientPorts"
	ReasonDeclinedScarce        = "DeclinedScarceResources"
)
