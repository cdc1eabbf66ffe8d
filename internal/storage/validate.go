package storage

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/record"
)

// validateConfig is the part of a Config that batch validation needs, parsed
// once when the config is set.
func (c *Config) validateConfig(now time.Time) (record.ValidateConfig, error) {
	target, err := record.ParseTargetCodec(c.CompressionType)
	if err != nil {
		return record.ValidateConfig{}, err
	}
	var tt record.TimestampType
	switch c.TimestampType {
	case CreateTime:
		tt = record.CreateTime
	case LogAppendTime:
		tt = record.LogAppendTime
	default:
		return record.ValidateConfig{}, fmt.Errorf("unknown message.timestamp.type %q", c.TimestampType)
	}
	return record.ValidateConfig{
		MaxBatchBytes:  c.MaxMessageBytes,
		TimestampType:  tt,
		BeforeMaxMs:    c.TimestampBeforeMaxMs,
		AfterMaxMs:     c.TimestampAfterMaxMs,
		Now:            now.UnixMilli(),
		TargetCodec:    target,
		CompactedTopic: c.Compacted,
	}, nil
}

// logConfig is a Config with its parsed validation settings.
type logConfig struct {
	Config
	validate record.ValidateConfig
}

func newLogConfig(c Config) (*logConfig, error) {
	c = c.Normalize()
	v, err := c.validateConfig(time.Time{})
	if err != nil {
		return nil, err
	}
	return &logConfig{Config: c, validate: v}, nil
}
