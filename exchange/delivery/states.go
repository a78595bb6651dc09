package delivery

import "github.com/riverqueue/river/rivertype"

type rivertypeJobState = rivertype.JobState

const (
	stateAvailable = rivertype.JobStateAvailable
	stateScheduled = rivertype.JobStateScheduled
	statePending   = rivertype.JobStatePending
	stateRetryable = rivertype.JobStateRetryable
	stateRunning   = rivertype.JobStateRunning
)
