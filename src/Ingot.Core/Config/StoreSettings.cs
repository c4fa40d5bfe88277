using Ingot.Storage;

namespace Ingot.Config;

/// <summary>The store keys every file destination accepts beside <c>path</c>: <c>endpoint</c>, <c>region</c>, <c>path_style</c>, <c>access_key</c>, <c>secret_key</c>.</summary>
public static class StoreSettings
{
    public static StoreOptions Read(ConfigSection section) => new(
        section.Optional("endpoint")?.Value,
        section.Optional("region")?.Value,
        section.Optional("path_style") is { } ps ? section.Context.Bool(ps) : null,
        section.Optional("access_key")?.Value,
        section.Optional("secret_key")?.Value);
}
