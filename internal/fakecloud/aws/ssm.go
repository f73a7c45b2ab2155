package aws

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// ssm serves the AmazonSSM JSON 1.1 protocol: only GetParameter.
func (c *Cloud) ssm(action string, body []byte) (string, *apiError) {
	if action != "GetParameter" {
		return "", errorf(http.StatusBadRequest, "UnknownOperationException", "Unknown operation %s", action)
	}
	var in struct {
		Name           string
		WithDecryption bool
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return "", errorf(http.StatusBadRequest, "SerializationException", "cannot parse request: %v", err)
	}
	if in.Name == "" {
		return "", errorf(http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	p, ok := c.params[in.Name]
	if !ok {
		return "", errorf(http.StatusBadRequest, "ParameterNotFound", "Parameter %s not found.", in.Name)
	}
	out := map[string]any{"Parameter": map[string]any{
		"ARN":              fmt.Sprintf("arn:aws:ssm:%s::parameter%s", c.opts.Region, in.Name),
		"DataType":         "text",
		"LastModifiedDate": float64(p.modified.UnixMilli()) / 1000,
		"Name":             in.Name,
		"Type":             "String",
		"Value":            p.value,
		"Version":          1,
	}}
	b, err := json.Marshal(out)
	if err != nil {
		return "", errorf(http.StatusInternalServerError, "InternalServerError", "%v", err)
	}
	return string(b), nil
}
