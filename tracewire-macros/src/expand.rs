//! Turning a function and its [`Args`] into the instrumented function.
//!
//! The signature, attributes and doc comments are kept as written; only the body changes. The user's
//! tokens keep their spans (so errors in the body land in the user's code) and the locals the
//! expansion adds are hygienic (`Span::mixed_site`), so they can neither clash with nor be seen by
//! the body. Generated code only names `<crate>::__private`, never tracewire's dependencies.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens as _, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::{
    Block, Expr, ExprAsync, FnArg, GenericArgument, Ident, ItemFn, LitStr, Pat, Path,
    PathArguments, ReturnType, Stmt, Type, TypeParamBound,
};

use crate::attr::Args;

/// The expansion of `#[traced(args)] item`.
pub(crate) fn expand(args: Args, item: ItemFn) -> syn::Result<TokenStream> {
    if let Some(constness) = &item.sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            "#[traced] cannot instrument a `const fn`: spans are started at run time",
        ));
    }
    check_field_args(&args, &item)?;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = &item;
    let cx = Expansion::new(&args, &sig.ident);

    if sig.asyncness.is_some() {
        if needs_async_fn(attrs) {
            // The signature must stay `async fn`: the span and its parent are decided at the
            // first poll (see "Which shapes" in the macro's docs).
            let body = cx.async_body(block, result_type(&sig.output), None);
            return Ok(quote! {
                #(#attrs)*
                #vis #sig {
                    #body
                }
            });
        }
        return cx.async_fn_capturing_parent(attrs, vis, sig, block);
    }
    let body = if let Some((call, future)) = async_trait_future(block) {
        // `#[async_trait]` already turned `async fn` into `fn -> Pin<Box<dyn Future>>` whose body
        // is `Box::pin(async move { ... })`: instrument the future inside, not the boxing, and
        // capture the parent before the boxing, at the call.
        let parent = &cx.parent_var;
        let instrumented = cx.async_body(
            &future.block,
            boxed_future_output(&sig.output),
            Some(parent),
        );
        let mut call = call.clone();
        call.args[0] = syn::parse2(quote!(async move { #instrumented }))?;
        let capture = cx.capture_parent();
        quote! {
            #capture
            #call
        }
    } else {
        cx.sync_body(block, result_type(&sig.output))
    };
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}

/// Attributes that are known not to need `async fn` (built-in, inert or lint attributes). Any other
/// attribute may be an attribute macro that expands after `#[traced]` and needs the function to
/// still be an `async fn` (`#[tokio::test]`, `#[tokio::main]` written below `#[traced]`).
const KNOWN_ATTRIBUTES: [&str; 14] = [
    "doc",
    "allow",
    "warn",
    "deny",
    "forbid",
    "expect",
    "must_use",
    "inline",
    "cold",
    "deprecated",
    "cfg",
    "diagnostic",
    "clippy",
    "rustfmt",
];

/// Whether an `async fn` must keep its signature (and so first-poll semantics): it carries an
/// attribute `#[traced]` does not know, which may be a macro that needs `async fn`.
fn needs_async_fn(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let first = attr.path().segments.first().map(|s| s.ident.to_string());
        !first.is_some_and(|first| KNOWN_ATTRIBUTES.contains(&first.as_str()))
    })
}

/// What the body expansions share.
struct Expansion<'a> {
    krate: Path,
    args: &'a Args,
    span_var: Ident,
    ret_var: Ident,
    parent_var: Ident,
    name: TokenStream,
}

impl<'a> Expansion<'a> {
    fn new(args: &'a Args, fn_name: &Ident) -> Self {
        let krate = args
            .krate
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(::tracewire));
        let fn_name_str = LitStr::new(&fn_name.unraw().to_string(), fn_name.span());
        let name = match (&args.name, args.module_path) {
            (Some(name), _) => name.to_token_stream(),
            (None, Some(_)) => quote!(::core::concat!(::core::module_path!(), "::", #fn_name_str)),
            (None, None) => fn_name_str.to_token_stream(),
        };
        Expansion {
            krate,
            args,
            span_var: Ident::new("__tw_span", Span::mixed_site()),
            ret_var: Ident::new("__tw_ret", Span::mixed_site()),
            parent_var: Ident::new("__tw_parent", Span::mixed_site()),
            name,
        }
    }

    fn records_return(&self) -> bool {
        self.args.err.is_some() || self.args.ret.is_some()
    }

    /// Captures, at the call, the parent an async function's span will have (nothing for `root`).
    fn capture_parent(&self) -> TokenStream {
        if self.args.root {
            return TokenStream::new();
        }
        let Expansion {
            krate, parent_var, ..
        } = self;
        quote!(let #parent_var = #krate::__private::parent();)
    }

    /// Starts the span and records the fields (evaluated only when the span records). With
    /// `parent`, the span's parent is the one captured at the call (see [`Self::capture_parent`]).
    fn start(&self, parent: Option<&Ident>) -> TokenStream {
        let Expansion {
            krate,
            span_var,
            name,
            ..
        } = self;
        let kind = match &self.args.kind {
            Some(variant) => quote!(#krate::__private::SpanKind::#variant),
            None => quote!(#krate::__private::SpanKind::Internal),
        };
        let root = self.args.root;
        let fields = self.args.fields.iter().map(|field| {
            let key = LitStr::new(&field.key, field.key_span);
            let value = self.value_of(field.value.to_token_stream(), field.value.span());
            quote!(#krate::__private::set_field(&#span_var, #key, #value);)
        });
        let fields = if self.args.fields.is_empty() {
            TokenStream::new()
        } else {
            quote! {
                if #span_var.is_recording() {
                    #(#fields)*
                }
            }
        };
        let start = match parent {
            Some(parent) if !root => {
                quote!(#krate::__private::start_in(#name, #kind, #parent))
            }
            _ => quote!(#krate::__private::start(#name, #kind, #root)),
        };
        quote! {
            let #span_var = #start;
            #fields
        }
    }

    /// The attribute value of `expr`: typed when it converts to one, its `Debug` text otherwise.
    fn value_of(&self, expr: TokenStream, span: Span) -> TokenStream {
        let krate = &self.krate;
        // Located at the user's expression (errors point there) but resolved as macro output, so
        // lints about generated code (clippy's `needless_borrow`) stay out of the user's way.
        let span = Span::call_site().located_at(span);
        quote_spanned! {span=>
            {
                #[allow(unused_imports)]
                use #krate::__private::{ViaDebug as _, ViaValue as _};
                (&#krate::__private::Wrap(&(#expr))).__tw_value()
            }
        }
    }

    /// Records `ret` and `err` on the span from the returned value.
    fn record_return(&self) -> TokenStream {
        let Expansion {
            krate,
            span_var,
            ret_var,
            ..
        } = self;
        let ret = self.args.ret.map(|span| {
            let value = self.value_of(ret_var.to_token_stream(), span);
            quote_spanned!(span=> #krate::__private::set_field(&#span_var, "return", #value);)
        });
        // The whole call carries `err`'s span, so a non-`Result` return is reported there.
        let err = self.args.err.map(|span| {
            respan(
                quote!(#krate::__private::record_err(&#span_var, &#ret_var);),
                span,
            )
        });
        quote! {
            if #span_var.is_recording() {
                #ret
                #err
            }
        }
    }

    fn sync_body(&self, block: &Block, output: Option<TokenStream>) -> TokenStream {
        let Expansion {
            krate,
            span_var,
            ret_var,
            ..
        } = self;
        let start = self.start(None);
        if !self.records_return() {
            return quote! {
                #start
                #krate::__private::run(&#span_var, move || #block)
            };
        }
        let annotation = output.map(|ty| quote!(: #ty));
        let record = self.record_return();
        quote! {
            #start
            let #ret_var #annotation = #krate::__private::run(&#span_var, move || #block);
            #record
            #ret_var
        }
    }

    fn async_body(
        &self,
        block: &Block,
        output: Option<TokenStream>,
        parent: Option<&Ident>,
    ) -> TokenStream {
        let Expansion {
            krate,
            span_var,
            ret_var,
            ..
        } = self;
        let start = self.start(parent);
        if !self.records_return() {
            return quote! {
                #start
                #krate::__private::instrument(#span_var, async move #block).await
            };
        }
        let annotation = output.map(|ty| quote!(: #ty));
        let record = self.record_return();
        quote! {
            #start
            let (#ret_var, #span_var) =
                #krate::__private::instrument_keep(#span_var, async move #block).await;
            let #ret_var #annotation = #ret_var;
            #record
            #ret_var
        }
    }
}

impl Expansion<'_> {
    /// An `async fn` as a plain `fn` returning `impl Future`, which captures the parent at the
    /// call and then runs, at the first poll, what the `async fn` would have:
    ///
    /// ```text
    /// fn name<generics>(args) -> impl Future<Output = T> where ... {
    ///     let parent = parent();              // at the call
    ///     async move {
    ///         let (a, b) = arg0;              // the arguments move in, as in an `async fn`
    ///         let span = start_in(name, kind, parent);
    ///         ...instrument(span, async move { body }).await
    ///     }
    /// }
    /// ```
    ///
    /// The `impl` of the return type is this macro's own token (not one of the user's), so it has
    /// this crate's edition, 2024, whatever the caller's: the opaque type then captures every
    /// generic parameter and lifetime in scope, which is what an `async fn`'s future captures,
    /// including elided lifetimes hidden in paths (`fmt::Formatter`) that no `use<..>` list written
    /// by a macro could name. The edition 2021 UI tests (`tests/edition2021`) hold this.
    fn async_fn_capturing_parent(
        &self,
        attrs: &[syn::Attribute],
        vis: &syn::Visibility,
        sig: &syn::Signature,
        block: &Block,
    ) -> syn::Result<TokenStream> {
        let mut sig = sig.clone();
        let result = result_type(&sig.output);
        let output = match &sig.output {
            ReturnType::Default => quote!(()),
            ReturnType::Type(_, ty) => ty.to_token_stream(),
        };
        sig.asyncness = None;
        sig.output = syn::parse2(quote!(-> impl ::core::future::Future<Output = #output>))?;
        let moves = move_arguments(&mut sig.inputs);
        let capture = self.capture_parent();
        let body = self.async_body(block, result, Some(&self.parent_var));
        Ok(quote! {
            #(#attrs)*
            #vis #sig {
                #capture
                async move {
                    #(#moves)*
                    #body
                }
            }
        })
    }
}

/// Makes the arguments plain names the future can move in, and returns the statements that move
/// them in (binding the user's patterns), so that, as in an `async fn`, every argument lives in the
/// future until it completes and a pattern is destructured at the first poll.
fn move_arguments(
    inputs: &mut syn::punctuated::Punctuated<FnArg, syn::Token![,]>,
) -> Vec<TokenStream> {
    let mut moves = Vec::new();
    for (i, input) in inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                let token = &receiver.self_token;
                moves.push(quote!(let _ = &#token;));
            }
            FnArg::Typed(typed) => match &mut *typed.pat {
                Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                    let mutability = ident.mutability.take();
                    let name = &ident.ident;
                    // Located at the argument but resolved as macro output: lints about the
                    // generated `let x = x;` (clippy's `redundant_locals`) stay out of the way.
                    let mut local = name.clone();
                    local.set_span(Span::call_site().located_at(name.span()));
                    moves.push(quote!(let #mutability #local = #name;));
                }
                pat => {
                    let arg = Ident::new(&format!("__tw_arg{i}"), Span::mixed_site());
                    let pat = std::mem::replace(
                        pat,
                        Pat::Ident(syn::PatIdent {
                            attrs: Vec::new(),
                            by_ref: None,
                            mutability: None,
                            ident: arg.clone(),
                            subpat: None,
                        }),
                    );
                    // Moved in first: `let _ = arg;` alone would not capture the argument, which
                    // an `async fn` keeps until its future completes.
                    moves.push(quote!(let #arg = #arg; let #pat = #arg;));
                }
            },
        }
    }
    moves
}

/// `tokens` with every token (recursively) located at `span`, keeping its hygiene.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut respanned =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(group.span().located_at(span));
                token = respanned.into();
            } else {
                token.set_span(token.span().located_at(span));
            }
            token
        })
        .collect()
}

/// The return type, for annotating the returned value; `None` when it cannot be written in a
/// `let` (`impl Trait`), and `()` for a function without one.
fn result_type(output: &ReturnType) -> Option<TokenStream> {
    match output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) if mentions_impl_trait(ty) => None,
        ReturnType::Type(_, ty) => Some(ty.to_token_stream()),
    }
}

fn mentions_impl_trait(ty: &Type) -> bool {
    fn contains_impl(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => ident == "impl",
            proc_macro2::TokenTree::Group(group) => contains_impl(group.stream()),
            _ => false,
        })
    }
    contains_impl(ty.to_token_stream())
}

/// `T` in `Pin<Box<dyn Future<Output = T> + ...>>`, the return type `#[async_trait]` writes.
fn boxed_future_output(output: &ReturnType) -> Option<TokenStream> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let output = future_output(ty)?;
    if mentions_impl_trait(output) {
        return None;
    }
    Some(output.to_token_stream())
}

fn future_output(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Path(path) => path.path.segments.iter().find_map(|segment| {
            let PathArguments::AngleBracketed(generics) = &segment.arguments else {
                return None;
            };
            generics.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(inner) => future_output(inner),
                _ => None,
            })
        }),
        Type::TraitObject(object) => object.bounds.iter().find_map(|bound| {
            let TypeParamBound::Trait(bound) = bound else {
                return None;
            };
            let last = bound.path.segments.last()?;
            if last.ident != "Future" {
                return None;
            }
            let PathArguments::AngleBracketed(generics) = &last.arguments else {
                return None;
            };
            generics.args.iter().find_map(|arg| match arg {
                GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
                _ => None,
            })
        }),
        Type::Paren(inner) => future_output(&inner.elem),
        Type::Group(inner) => future_output(&inner.elem),
        _ => None,
    }
}

/// The `Box::pin(async move { ... })` body that `#[async_trait]` generates, if this is one.
fn async_trait_future(block: &Block) -> Option<(&syn::ExprCall, &ExprAsync)> {
    let [Stmt::Expr(Expr::Call(call), None)] = block.stmts.as_slice() else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let names: Vec<String> = func
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if !names.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    match &call.args[0] {
        Expr::Async(future) if future.capture.is_some() => Some((call, future)),
        _ => None,
    }
}

/// `fields(arg)` must name an argument of the function.
fn check_field_args(args: &Args, item: &ItemFn) -> syn::Result<()> {
    let mut names = Vec::new();
    for input in &item.sig.inputs {
        match input {
            FnArg::Receiver(_) => names.push("self".to_owned()),
            FnArg::Typed(typed) => bound_names(&typed.pat, &mut names),
        }
    }
    for arg in args.fields.iter().filter_map(|field| field.arg.as_ref()) {
        let name = arg.unraw().to_string();
        if !names.contains(&name) {
            let listed = if names.is_empty() {
                "it has none".to_owned()
            } else {
                format!("its arguments are: {}", names.join(", "))
            };
            return Err(syn::Error::new(
                arg.span(),
                format!(
                    "`{name}` is not an argument of `{}` ({listed}); to record an expression, write `{name} = expression`",
                    item.sig.ident
                ),
            ));
        }
    }
    Ok(())
}

/// The names a pattern binds.
fn bound_names(pat: &Pat, names: &mut Vec<String>) {
    match pat {
        Pat::Ident(ident) => {
            names.push(ident.ident.unraw().to_string());
            if let Some((_, sub)) = &ident.subpat {
                bound_names(sub, names);
            }
        }
        Pat::Reference(reference) => bound_names(&reference.pat, names),
        Pat::Type(typed) => bound_names(&typed.pat, names),
        Pat::Paren(paren) => bound_names(&paren.pat, names),
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| bound_names(p, names)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| bound_names(p, names)),
        Pat::Slice(slice) => slice.elems.iter().for_each(|p| bound_names(p, names)),
        Pat::Struct(strukt) => strukt
            .fields
            .iter()
            .for_each(|field| bound_names(&field.pat, names)),
        _ => {}
    }
}
