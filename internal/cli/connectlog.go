package cli

import (
	"log/slog"

	"github.com/sluicehq/sluice/connect/logging"
)

// connectLogger builds a Connect worker's logger: the handler of
// --log-format takes every level, and a level table, whose root level is
// --log-level, decides what is written; the REST API changes it at run
// time (/admin/loggers).
func (a *app) connectLogger() (*slog.Logger, *logging.Levels, error) {
	level, err := a.level()
	if err != nil {
		return nil, nil, err
	}
	h, err := a.logHandler(logging.LevelAll)
	if err != nil {
		return nil, nil, err
	}
	levels := logging.New(level)
	return levels.Logger(h), levels, nil
}
