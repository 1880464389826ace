//! Parsing `#[traced(...)]`'s options into [`Args`], with every error spanned on the user's token.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Path, Token, parenthesized};

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(kind);
    syn::custom_keyword!(fields);
    syn::custom_keyword!(err);
    syn::custom_keyword!(ret);
    syn::custom_keyword!(root);
    syn::custom_keyword!(module_path);
}

/// The options, as listed in the macro's docs.
pub(crate) const OPTIONS: &str = "name, module_path, kind, fields, err, ret, root, crate";

/// The span kinds `kind = ...` accepts.
const KINDS: [&str; 5] = ["client", "server", "producer", "consumer", "internal"];

/// Everything `#[traced(...)]` was given. Each option appears at most once.
#[derive(Default)]
pub(crate) struct Args {
    /// `name = "..."`.
    pub(crate) name: Option<LitStr>,
    /// `module_path`: the default name is prefixed with the module path.
    pub(crate) module_path: Option<Span>,
    /// `kind = server` and the like: the variant of `SpanKind`, capitalised.
    pub(crate) kind: Option<Ident>,
    /// `fields(...)`.
    pub(crate) fields: Vec<Field>,
    /// `err`: the token, where a non-`Result` return is reported.
    pub(crate) err: Option<Span>,
    /// `ret`: the token, where a return value that cannot be recorded is reported.
    pub(crate) ret: Option<Span>,
    /// `root`.
    pub(crate) root: bool,
    /// `crate = path`.
    pub(crate) krate: Option<Path>,
}

/// One entry of `fields(...)`.
pub(crate) struct Field {
    /// The attribute key (`a.b.c`, `"a.b"`, or the argument's name).
    pub(crate) key: String,
    /// Where the key was written.
    pub(crate) key_span: Span,
    /// The recorded expression (the argument itself for a bare argument name).
    pub(crate) value: Expr,
    /// The bare argument name (`fields(arg)`), checked against the function's arguments.
    pub(crate) arg: Option<Ident>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            // Every option starts with an identifier (or `crate`); read it for the duplicate check.
            let option = input.fork().call(Ident::parse_any)?;
            let option_name = option.to_string();
            if seen.contains(&option_name) {
                return Err(syn::Error::new(
                    option.span(),
                    format!("duplicate option `{option_name}`: each option can be given once"),
                ));
            }
            if lookahead.peek(kw::name) {
                input.parse::<kw::name>()?;
                input.parse::<Token![=]>()?;
                args.name = Some(input.parse()?);
            } else if lookahead.peek(kw::module_path) {
                let token = input.parse::<kw::module_path>()?;
                args.module_path = Some(token.span);
            } else if lookahead.peek(kw::kind) {
                input.parse::<kw::kind>()?;
                input.parse::<Token![=]>()?;
                args.kind = Some(parse_kind(input)?);
            } else if lookahead.peek(kw::fields) {
                input.parse::<kw::fields>()?;
                let content;
                parenthesized!(content in input);
                let fields = Punctuated::<Field, Token![,]>::parse_terminated(&content)?;
                args.fields = fields.into_iter().collect();
                check_unique_keys(&args.fields)?;
            } else if lookahead.peek(kw::err) {
                args.err = Some(input.parse::<kw::err>()?.span);
            } else if lookahead.peek(kw::ret) {
                args.ret = Some(input.parse::<kw::ret>()?.span);
            } else if lookahead.peek(kw::root) {
                input.parse::<kw::root>()?;
                args.root = true;
            } else if lookahead.peek(Token![crate]) {
                input.parse::<Token![crate]>()?;
                input.parse::<Token![=]>()?;
                args.krate = Some(input.call(Path::parse_mod_style)?);
            } else if input.peek(Ident::peek_any) {
                return Err(syn::Error::new(
                    option.span(),
                    format!("unknown option `{option_name}`; expected one of: {OPTIONS}"),
                ));
            } else {
                return Err(lookahead.error());
            }
            seen.push(option_name);
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        if let (Some(name), Some(module_path)) = (&args.name, args.module_path) {
            let mut error = syn::Error::new(
                module_path,
                "`module_path` changes the default name; it cannot be combined with `name`",
            );
            error.combine(syn::Error::new(name.span(), "the name given here"));
            return Err(error);
        }
        Ok(args)
    }
}

fn parse_kind(input: ParseStream<'_>) -> syn::Result<Ident> {
    let value: Ident = input.call(Ident::parse_any).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected a span kind: one of {}", KINDS.join(", ")),
        )
    })?;
    let text = value.to_string();
    if !KINDS.contains(&text.as_str()) {
        return Err(syn::Error::new(
            value.span(),
            format!(
                "unknown span kind `{text}`; expected one of: {}",
                KINDS.join(", ")
            ),
        ));
    }
    let mut variant = text;
    variant[..1].make_ascii_uppercase();
    Ok(Ident::new(&variant, value.span()))
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let key: LitStr = input.parse()?;
            if key.value().is_empty() {
                return Err(syn::Error::new(
                    key.span(),
                    "an attribute key cannot be empty",
                ));
            }
            input.parse::<Token![=]>().map_err(|e| {
                syn::Error::new(e.span(), "expected `= expression` after a quoted key")
            })?;
            return Ok(Field {
                key: key.value(),
                key_span: key.span(),
                value: input.parse()?,
                arg: None,
            });
        }
        // `a`, `a.b.c`, `self`: keys are dotted identifiers (keywords allowed after a dot).
        let first = input.call(Ident::parse_any)?;
        let mut key = first.unraw().to_string();
        let mut span = first.span();
        while input.peek(Token![.]) {
            let dot = input.parse::<Token![.]>()?;
            let part = input.call(Ident::parse_any)?;
            key.push('.');
            key.push_str(&part.unraw().to_string());
            span = span.join(part.span()).unwrap_or(dot.spans[0]);
        }
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            return Ok(Field {
                key,
                key_span: span,
                value: input.parse()?,
                arg: None,
            });
        }
        if key.contains('.') {
            return Err(syn::Error::new(
                span,
                format!("a dotted key needs a value: `{key} = expression`"),
            ));
        }
        Ok(Field {
            key,
            key_span: span,
            value: Expr::Path(syn::ExprPath {
                attrs: Vec::new(),
                qself: None,
                path: first.clone().into(),
            }),
            arg: Some(first),
        })
    }
}

fn check_unique_keys(fields: &[Field]) -> syn::Result<()> {
    for (i, field) in fields.iter().enumerate() {
        if fields[..i].iter().any(|f| f.key == field.key) {
            return Err(syn::Error::new(
                field.key_span,
                format!("duplicate field `{}`", field.key),
            ));
        }
    }
    Ok(())
}
