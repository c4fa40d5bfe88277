using System.Text.RegularExpressions;

namespace Ingot.Http;

/// <summary>
/// The one place secrets are kept out of anything written — logs, run records, manifests, error messages, summaries
/// (DESIGN §2, invariant 7): every registered secret, the userinfo of any URL (<c>http://user:secret@host</c>), the values
/// of query parameters named like credentials (<c>api_key=…</c>, <c>token=…</c>), and connection-string passwords
/// (<c>Password=…;</c>). Connectors register their credentials; everything that writes text passes it through
/// <see cref="Message"/> (or <see cref="Url"/> for a request).
/// </summary>
public static partial class Redact
{
    private const string Mask = "***";
    private static readonly HashSet<string> Secrets = new(StringComparer.Ordinal);
    private static readonly Lock Lock = new();

    // scheme://userinfo@ — whatever sits between "//" and "@" before the host is a credential (user:password or a token).
    [GeneratedRegex(@"(?<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?<userinfo>[^/?#@\s""']+)@", RegexOptions.CultureInvariant)]
    private static partial Regex UserInfoRegex();

    // ?api_key=…, &token=…, &client_secret=…: a query parameter whose name says it carries a credential.
    [GeneratedRegex(@"(?<name>[?&;](?:[^=&\s""'#]*?)(?:key|token|secret|password|passwd|pwd|signature|credential)[^=&\s""'#]*=)(?<value>[^&;\s""'#]*)",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex QueryRegex();

    // Password=…; in an Npgsql/ADO.NET connection string (also Pwd=, and quoted values).
    [GeneratedRegex(@"(?<name>\b(?:password|pwd)\s*=\s*)(?<value>""[^""]*""|'[^']*'|[^;&\s""']*)", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex ConnectionPasswordRegex();

    /// <summary>Registers a secret (an API key, a token, a password): from now on it never appears in written text.</summary>
    public static void Register(string? secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length < 4) return;
        lock (Lock) Secrets.Add(secret);
        // A secret also travels URL-encoded (a key with '+' or '/' in a query string).
        var escaped = Uri.EscapeDataString(secret);
        if (escaped != secret) lock (Lock) Secrets.Add(escaped);
    }

    /// <summary>The credentials a configured value carries in its own text (a URL's userinfo, a connection string's password).</summary>
    public static IEnumerable<string> SecretsIn(string? text)
    {
        if (string.IsNullOrEmpty(text)) yield break;
        foreach (Match m in UserInfoRegex().Matches(text))
        {
            var userinfo = m.Groups["userinfo"].Value;
            var colon = userinfo.IndexOf(':', StringComparison.Ordinal);
            // user:password: the password is the secret; a lone userinfo (https://TOKEN@host) is a token.
            yield return colon < 0 ? userinfo : userinfo[(colon + 1)..];
            if (colon >= 0) yield return Uri.UnescapeDataString(userinfo[(colon + 1)..]);
        }
        foreach (Match m in ConnectionPasswordRegex().Matches(text)) yield return m.Groups["value"].Value.Trim('"', '\'');
    }

    public static string Message(string text)
    {
        if (string.IsNullOrEmpty(text)) return text;
        string[] secrets;
        lock (Lock) secrets = [.. Secrets];
        // Longest first: a secret that contains another is masked whole.
        foreach (var s in secrets.OrderByDescending(s => s.Length)) text = text.Replace(s, Mask, StringComparison.Ordinal);
        text = UserInfoRegex().Replace(text, m => $"{m.Groups["scheme"].Value}{Mask}@");
        // Connection strings first (their quoted values may hold ';'), then query parameters.
        text = ConnectionPasswordRegex().Replace(text, m => $"{m.Groups["name"].Value}{Mask}");
        text = QueryRegex().Replace(text, m => m.Groups["value"].Value == Mask ? m.Value : $"{m.Groups["name"].Value}{Mask}");
        return text;
    }

    /// <summary>A request URL as it may be written: userinfo and credential parameters masked, registered secrets masked.</summary>
    public static string Url(Uri url) => Message(url.OriginalString.Length > 0 ? url.OriginalString : url.ToString());

    /// <summary>
    /// <see cref="Url(Uri)"/>, and the values of the query parameters named in <paramref name="secretParams"/> masked too
    /// (a REST API key sent as a parameter whose name does not look like one, e.g. <c>appid</c>).
    /// </summary>
    public static string Url(Uri url, IReadOnlyCollection<string> secretParams)
    {
        var text = Url(url);
        if (secretParams.Count == 0) return text;
        var q = text.IndexOf('?', StringComparison.Ordinal);
        if (q < 0) return text;
        var parts = text[(q + 1)..].Split('&').Select(p =>
        {
            var eq = p.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? p : p[..eq];
            return secretParams.Contains(Uri.UnescapeDataString(name)) ? $"{name}={Mask}" : p;
        });
        return $"{text[..(q + 1)]}{string.Join('&', parts)}";
    }
}
