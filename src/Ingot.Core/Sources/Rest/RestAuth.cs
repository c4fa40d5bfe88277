using System.Text;
using System.Text.Json;
using Ingot.Http;

namespace Ingot.Sources.Rest;

/// <summary>
/// Puts a REST source's credentials on each request: an API key header or query parameter, a bearer token, HTTP Basic,
/// or an OAuth 2.0 client-credentials token — fetched once, shared by every stream, renewed shortly before it expires
/// and when the API answers 401 to it. Tokens are registered as secrets the moment they arrive.
/// </summary>
internal sealed class RestAuth(RestAuthSpec spec, ResilientHttp http, TimeProvider time)
{
    private readonly SemaphoreSlim _renew = new(1, 1);
    private Token? _token;

    private sealed record Token(string Value, DateTimeOffset RenewAt);

    /// <summary>The query parameter that carries the key (masked by name wherever a URL is written), or null.</summary>
    public string? QueryParam => (spec as RestAuthSpec.ApiKey)?.Query;

    /// <summary>Whether a 401 may be a stale credential worth one renewal (only a fetched token can go stale).</summary>
    public bool Renews => spec is RestAuthSpec.OAuth2ClientCredentials;

    /// <summary>Adds the credentials to the request's headers; returns the URL with a query key added where the key goes there.</summary>
    public async Task<Uri> ApplyAsync(Uri url, Dictionary<string, string> headers, string chunkKey, CancellationToken cancellationToken)
    {
        switch (spec)
        {
            case RestAuthSpec.ApiKey { Header: { } header } k:
                headers[header] = k.Key;
                return url;
            case RestAuthSpec.ApiKey { Query: { } name } k:
                return WithQuery(url, name, k.Key);
            case RestAuthSpec.Bearer b:
                headers["Authorization"] = $"Bearer {b.Token}";
                return url;
            case RestAuthSpec.Basic b:
                headers["Authorization"] = $"Basic {b.HeaderValue}";
                return url;
            case RestAuthSpec.OAuth2ClientCredentials o:
                headers["Authorization"] = $"Bearer {await TokenAsync(o, null, chunkKey, cancellationToken).ConfigureAwait(false)}";
                return url;
            default:
                return url;
        }
    }

    /// <summary>The API refused <paramref name="used"/> with a 401: drop it (unless another request already renewed it).</summary>
    public async Task InvalidateAsync(string usedAuthorization, string chunkKey, CancellationToken cancellationToken)
    {
        if (spec is not RestAuthSpec.OAuth2ClientCredentials o) return;
        await TokenAsync(o, usedAuthorization.StartsWith("Bearer ", StringComparison.Ordinal) ? usedAuthorization[7..] : usedAuthorization, chunkKey, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The cached token, or a new one when there is none, it is due for renewal, or it is the <paramref name="rejected"/> one.</summary>
    private async Task<string> TokenAsync(RestAuthSpec.OAuth2ClientCredentials o, string? rejected, string chunkKey, CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _token);
        if (current is not null && current.Value != rejected && time.GetUtcNow() < current.RenewAt) return current.Value;
        await _renew.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Another request may have renewed it while this one waited: one token request per expiry, not one per worker.
            current = _token;
            if (current is not null && current.Value != rejected && time.GetUtcNow() < current.RenewAt) return current.Value;
            var fresh = await RequestTokenAsync(o, chunkKey, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _token, fresh);
            return fresh.Value;
        }
        finally
        {
            _renew.Release();
        }
    }

    private async Task<Token> RequestTokenAsync(RestAuthSpec.OAuth2ClientCredentials o, string chunkKey, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>> { new("grant_type", "client_credentials") };
        var headers = new Dictionary<string, string> { ["Accept"] = "application/json" };
        if (o.ClientAuthBasic)
        {
            // RFC 6749 §2.3.1: the client id and secret are form-encoded before they are joined for Basic.
            var pair = $"{Uri.EscapeDataString(o.ClientId)}:{Uri.EscapeDataString(o.ClientSecret)}";
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes(pair));
            Redact.Register(basic);
            headers["Authorization"] = $"Basic {basic}";
        }
        else
        {
            form.Add(new("client_id", o.ClientId));
            form.Add(new("client_secret", o.ClientSecret));
        }
        if (o.Scope is not null) form.Add(new("scope", o.Scope));
        var requested = time.GetUtcNow();
        string? accessToken = null;
        double? expiresIn = null;
        try
        {
            await http.PostFormAsync(new Uri(o.TokenUrl), headers, form, (status, body, _) =>
            {
                if (status is < 200 or >= 300) return null;
                try
                {
                    using var doc = JsonDocument.Parse(body);
                    var root = doc.RootElement;
                    if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("access_token", out var t) || t.ValueKind != JsonValueKind.String || t.GetString() is not { Length: > 0 } token)
                        return new HttpFailure(FailureKind.Permanent, status, "the token response has no access_token");
                    accessToken = token;
                    Redact.Register(token);
                    if (root.TryGetProperty("expires_in", out var e))
                    {
                        if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var seconds)) expiresIn = seconds;
                        else if (e.ValueKind == JsonValueKind.String && double.TryParse(e.GetString(), System.Globalization.CultureInfo.InvariantCulture, out seconds)) expiresIn = seconds;
                    }
                    return null;
                }
                catch (JsonException)
                {
                    return new HttpFailure(FailureKind.Transient, status, "the token response is not JSON");
                }
            }, chunkKey, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpFailure f)
        {
            throw new HttpFailure(f.Kind, f.Status, $"OAuth 2.0 token request to {Redact.Url(new Uri(o.TokenUrl))} failed: {f.Message}", f.RetryAfter);
        }
        return new Token(accessToken!, RenewAt(requested, expiresIn));
    }

    /// <summary>
    /// Renew before expiry: a minute early, or a tenth of the lifetime for short-lived tokens, counted from when the token
    /// was asked for (the server's clock started no earlier). Without <c>expires_in</c> the token is kept until a 401.
    /// </summary>
    internal static DateTimeOffset RenewAt(DateTimeOffset requested, double? expiresIn)
    {
        if (expiresIn is not { } s || s <= 0) return DateTimeOffset.MaxValue;
        var lifetime = TimeSpan.FromSeconds(Math.Min(s, TimeSpan.FromDays(3650).TotalSeconds));
        var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(1).Ticks, lifetime.Ticks / 10));
        return requested + lifetime - margin;
    }

    /// <summary>The URL with <paramref name="name"/>=<paramref name="value"/> set (replacing an existing value of that name).</summary>
    internal static Uri WithQuery(Uri url, string name, string value)
    {
        // Built as text (not UriBuilder): the URL keeps the form it is written in (no default port added).
        var kept = url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => Uri.UnescapeDataString(p.Split('=')[0]) != name);
        return new Uri($"{url.GetLeftPart(UriPartial.Path)}?{string.Join('&', kept.Append($"{Uri.EscapeDataString(name)}={Uri.EscapeDataString(value)}"))}");
    }
}
