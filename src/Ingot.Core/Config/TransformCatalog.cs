namespace Ingot.Config;

/// <summary>The transforms a pipeline may name, with the settings each requires.</summary>
public static class TransformCatalog
{
    private static readonly Dictionary<string, (string[] Required, string[] Optional)> Known = new(StringComparer.Ordinal)
    {
        ["split"] = (["field", "separator"], []),
        ["epoch_ms"] = (["field", "as"], ["timezone"]),
    };

    public static IEnumerable<string> Names => Known.Keys;

    /// <summary>Null when the transform is valid, else the problem.</summary>
    public static string? Validate(TransformSpec spec)
    {
        if (!Known.TryGetValue(spec.Name, out var shape)) return $"unknown transform (known: {string.Join(", ", Known.Keys)})";
        foreach (var r in shape.Required)
        {
            if (!spec.Settings.ContainsKey(r)) return $"setting '{r}' is required";
        }
        foreach (var k in spec.Settings.Keys)
        {
            if (!shape.Required.Contains(k) && !shape.Optional.Contains(k)) return $"unknown setting '{k}'";
        }
        if (spec.Settings.TryGetValue("timezone", out var tz))
        {
            try { TimeZoneInfo.FindSystemTimeZoneById(tz); }
            catch (TimeZoneNotFoundException) { return $"unknown timezone '{tz}'"; }
        }
        return null;
    }
}
